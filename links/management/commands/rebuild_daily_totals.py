"""`manage.py rebuild_daily_totals [--shop SHOP_ID]`

Recounts the dashboard's daily totals (links.daily_totals) from the payments: every shop's, or
one shop's, each shop in a transaction of its own. Safe while vpos serves: a payment finalized
meanwhile is counted once. Run it once after upgrading to the version that introduced the totals
(its migration fills them, but the previous version, still serving during the upgrade, did not keep
them), and whenever they are in doubt.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from links.daily_totals import rebuild
from merchants.models import Merchant


class Command(BaseCommand):
    help = "Recount the dashboard's daily totals from the payments."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--shop", help="only this shop (its id, as in its back-office URL)")

    def handle(self, *args: Any, **options: Any) -> None:
        merchant = None
        if options["shop"]:
            try:
                merchant = Merchant.objects.get(public_id=options["shop"])
            except (Merchant.DoesNotExist, ValidationError) as error:
                raise CommandError(f"no shop with id {options['shop']!r}") from error
        rows = rebuild(merchant=merchant)
        shops = merchant.name if merchant else "every shop"
        self.stdout.write(f"Daily totals recounted for {shops}: {rows} day(s) with payments.")
