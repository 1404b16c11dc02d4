"""Reading untrusted input the same way everywhere: ids, JSON bodies, one-line texts.

`str.isdigit()` and `int()` accept other scripts' digits ("¹", "①", "١٢٣"), and not always the
same ones, so an id or an amount typed that way was a 500 or a surprise; a deeply nested JSON body
exhausts the parser's recursion; a name with line breaks prints as extra lines on a receipt.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy

ASCII_INTEGER = re.compile(r"[0-9]+")
# What secrets.token_urlsafe makes (link and invitation tokens), at most a database column's 64.
URL_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")
# Deep enough for any Stripe event or API body (they nest about ten levels), far from the limit.
MAX_JSON_DEPTH = 64
# Control characters (C0, DEL, C1) and the Unicode line and paragraph separators.
_LINE_BREAKING = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SPACES = re.compile(r"\s{2,}")


def parse_id(text: str | None, *, max_digits: int = 18) -> int | None:
    """A positive database id written in ASCII digits ("42"), or None for anything else."""
    if not text or len(text) > max_digits or not ASCII_INTEGER.fullmatch(text):
        return None
    return int(text) or None


def is_url_token(text: str) -> bool:
    """Could be a token from one of our URLs: anything else (a NUL byte, which PostgreSQL
    refuses in a query, other scripts, 10 kB) is a 404 before it reaches the database."""
    return URL_TOKEN.fullmatch(text) is not None


class AsciiIntegerField(forms.IntegerField):
    """forms.IntegerField, for the digits 0-9 only (Django's accepts "١٢٣" as 123)."""

    def to_python(self, value: Any) -> int | None:
        if isinstance(value, str) and not value.isascii():
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


class DayField(forms.DateField):
    """A day, typed the way people here write it: dd/mm/yyyy (ISO is accepted too: the input
    formats are the locale's, vpos/formats)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault(
            "widget",
            forms.DateInput(
                attrs={
                    "placeholder": gettext_lazy("dd/mm/yyyy"),
                    "inputmode": "numeric",
                    "autocomplete": "off",
                },
                format="%d/%m/%Y",
            ),
        )
        super().__init__(**kwargs)


class JsonTooDeep(ValueError):
    """The JSON nests more than MAX_JSON_DEPTH arrays and objects."""


def load_json(data: str | bytes, *, max_depth: int = MAX_JSON_DEPTH, **options: Any) -> Any:
    """json.loads that refuses bodies nested deeper than `max_depth` with JsonTooDeep (a
    ValueError, like every other malformed body) instead of a RecursionError."""
    try:
        value = json.loads(data, **options)
    except RecursionError as error:
        raise JsonTooDeep(f"nested deeper than {max_depth} levels") from error
    if _depth_exceeds(value, max_depth):
        raise JsonTooDeep(f"nested deeper than {max_depth} levels")
    return value


def _depth_exceeds(value: Any, max_depth: int) -> bool:
    """Without recursion: the value is checked before anything recurses into it."""
    pending = [(value, 1)] if isinstance(value, dict | list) else []
    while pending:
        item, depth = pending.pop()
        if depth > max_depth:
            return True
        children = item.values() if isinstance(item, dict) else item
        pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def single_line(text: str) -> str:
    """A name or reference as one line: line breaks, tabs and other control characters become
    one space, runs of spaces shrink to one, and the ends are stripped."""
    return _SPACES.sub(" ", _LINE_BREAKING.sub(" ", text)).strip()
