"""Italian as Italians write it: "venerdì 4 dicembre 2026, 14:05" (the lowercase month and
weekday names come from locale/it: Django's catalog capitalizes them)."""

from vpos.formats.european import *  # noqa: F403

DATETIME_FORMAT = "l j F Y, H:i"
