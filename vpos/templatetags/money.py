from django import template

from vpos.money import format_money

register = template.Library()


@register.simple_tag
def money(amount: int | None, currency: str) -> str:
    """`{% money 1999 "EUR" %}` -> "19,99 €" in the active language."""
    return "" if amount is None else format_money(int(amount), currency)
