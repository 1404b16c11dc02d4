"""English as people in Europe write it: day first, 24-hour clock ("5 December 2026, 14:05",
"05/12/2026 14:05"). Django's own English formats are American."""

from vpos.formats.european import *  # noqa: F403
