"""What the shop's management commands share: the `--shop SHOP_ID` option."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser

from merchants.models import Merchant


def add_shop_argument(parser: CommandParser) -> None:
    parser.add_argument("--shop", help="only this shop (its id, as in its back-office URL)")


def shop_option(value: str | None) -> Merchant | None:
    """The shop `--shop` names, None without it; a clear error for an id no shop has."""
    if not value:
        return None
    try:
        return Merchant.objects.get(public_id=value)
    except (Merchant.DoesNotExist, ValidationError) as error:
        raise CommandError(f"no shop with id {value!r}") from error
