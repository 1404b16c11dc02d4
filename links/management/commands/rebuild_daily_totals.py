"""`manage.py rebuild_daily_totals [--shop SHOP_ID]`

Recounts the dashboard's daily totals (links.daily_totals) from the payments: every shop's, or
one shop's, each shop in a transaction of its own. Safe while vpos serves: a payment finalized
meanwhile is counted once. Run it once after upgrading to the version that introduced the totals
(its migration fills them, but the previous version, still serving during the upgrade, did not keep
them), and whenever they are in doubt.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from links.daily_totals import rebuild
from links.management.options import add_shop_argument, shop_option


class Command(BaseCommand):
    help = "Recount the dashboard's daily totals from the payments."

    def add_arguments(self, parser: CommandParser) -> None:
        add_shop_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        merchant = shop_option(options["shop"])
        rows = rebuild(merchant=merchant)
        shops = merchant.name if merchant else "every shop"
        self.stdout.write(f"Daily totals recounted for {shops}: {rows} day(s) with payments.")
