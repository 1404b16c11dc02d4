"""A bar chart of daily amounts as SVG geometry, for a template to draw: the coordinates are
plain numbers, the labels are in the reader's language and format."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from datetime import date

from babel import Locale
from babel.numbers import format_currency
from django.utils import formats, translation
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from .money import babel_locale, exponent, format_money

# A day on the chart's axis: Italian abbreviates months in lowercase ("4 dic").
AXIS_DAY = {"it": "j b"}

# The chart's drawing, in SVG user units: it scales to the width of its card.
CHART_WIDTH, CHART_HEIGHT = 720, 240
PLOT_LEFT, PLOT_RIGHT, PLOT_TOP, PLOT_BOTTOM = 72, 696, 12, 212  # room for the labels
X_LABEL_EVERY = 7  # days between the dates under the bars, counted back from today


@dataclass
class ChartBar:
    day: date
    label: str  # the full date, for the bar's tooltip and the table
    value: str
    x: float
    y: float
    height: float


@dataclass
class ChartLabel:
    position: float
    text: str


@dataclass
class Chart:
    currency: str
    bars: list[ChartBar]
    y_ticks: list[ChartLabel]
    x_labels: list[ChartLabel]
    summary: str
    other_currencies: list[str]
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT
    bar_width: float = 0.0
    plot_left: int = PLOT_LEFT
    plot_right: int = PLOT_RIGHT
    plot_top: int = PLOT_TOP
    plot_bottom: int = PLOT_BOTTOM


def _whole_money(units: int, currency: str) -> str:
    """An axis label: whole units in the reader's format ("1.200 €", "€1,200")."""
    return _whole_money_in(units, currency, babel_locale())


def _day(day: date, format_name: str) -> str:
    """A day in the reader's language and format ("4 dicembre 2026", "4 dic")."""
    return _day_in(day, format_name, get_language())


# Pure functions of their arguments, remembered: the chart formats some forty dates and amounts,
# the same ones on every visit of the day (Babel and Django take 20-40 µs for each).
@functools.lru_cache(maxsize=1024)
def _whole_money_in(units: int, currency: str, locale: str) -> str:
    pattern = Locale.parse(locale).currency_formats["standard"].pattern
    pattern = pattern.split(";")[0].replace(".00", "")
    return format_currency(units, currency, format=pattern, locale=locale, currency_digits=False)


@functools.lru_cache(maxsize=1024)
def _day_in(day: date, format_name: str, language: str | None) -> str:
    with translation.override(language):
        return formats.date_format(day, format_name)


def _axis_step(largest_units: float) -> int:
    """A round step (1, 2, 5 x 10^n whole units) giving at most four gridlines above zero."""
    rough = max(largest_units / 4, 1)
    magnitude = 10 ** math.floor(math.log10(rough))
    return next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= rough)


def daily_chart(
    days: list[date], daily: dict[date, int], currency: str, others: list[str]
) -> Chart:
    """Bars of one currency's daily amounts (minor units) over `days`, oldest first, with a
    round axis, a date under every seventh bar counted back from the last, and a sentence that
    says the same for screen readers. `others`: currencies left out of the chart."""
    unit = 10 ** exponent(currency)
    largest = max((daily.get(day, 0) for day in days), default=0)
    step = _axis_step(largest / unit)
    intervals = max(1, math.ceil(largest / unit / step))
    axis_max = step * intervals * unit  # minor units at the top of the plot
    plot_height = PLOT_BOTTOM - PLOT_TOP
    slot = (PLOT_RIGHT - PLOT_LEFT) / len(days)
    bar_width = round(slot * 0.7, 2)

    bars = []
    for index, day in enumerate(days):
        amount = daily.get(day, 0)
        height = plot_height * amount / axis_max
        if amount > 0:
            height = max(height, 1.5)  # a small day stays visible
        bars.append(
            ChartBar(
                day=day,
                label=_day(day, "DATE_FORMAT"),
                value=format_money(amount, currency),
                x=round(PLOT_LEFT + index * slot + (slot - bar_width) / 2, 2),
                y=round(PLOT_BOTTOM - height, 2),
                height=round(height, 2),
            )
        )
    y_ticks = [
        ChartLabel(
            position=round(PLOT_BOTTOM - plot_height * i / intervals, 2),
            text=_whole_money(step * i, currency),
        )
        for i in range(intervals + 1)
    ]
    x_labels = [
        ChartLabel(
            position=round(PLOT_LEFT + index * slot + slot / 2, 2),
            text=_day(days[index], AXIS_DAY.get(get_language(), "j M")),
        )
        for index in range(len(days) - 1, -1, -X_LABEL_EVERY)
    ]
    total = sum(daily.get(day, 0) for day in days)
    if total:
        best = max(days, key=lambda day: (daily.get(day, 0), day))
        summary = _(
            "%(total)s collected in the last 30 days; the best day was %(day)s with %(amount)s."
        ) % {
            "total": format_money(total, currency),
            "day": _day(best, "DATE_FORMAT"),
            "amount": format_money(daily[best], currency),
        }
    else:
        summary = _("Nothing collected in the last 30 days.")
    if others:
        summary += " " + _("Payments in %(currencies)s are not in the chart.") % {
            "currencies": ", ".join(others)
        }
    return Chart(
        currency=currency,
        bars=bars,
        y_ticks=y_ticks,
        x_labels=x_labels,
        summary=summary,
        other_currencies=others,
        bar_width=bar_width,
    )
