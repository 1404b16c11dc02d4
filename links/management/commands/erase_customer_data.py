"""`manage.py erase_customer_data --email ADDRESS --reference REF [--shop SHOP_ID] [--dry-run]`

A customer's request to erase their personal data (GDPR art. 17): see links/privacy.py for what
is emptied and what is kept (receipts and refund notes, which the law requires for 10 years).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_email

from links.management.options import add_shop_argument, shop_option
from links.privacy import customer_data_erase


class Command(BaseCommand):
    help = "Erase a customer's personal data on request, keeping the fiscal documents."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", required=True, help="the customer's email address")
        parser.add_argument(
            "--reference", required=True, help="the request's reference, kept in the audit log"
        )
        add_shop_argument(parser)
        parser.add_argument("--dry-run", action="store_true", help="count, change nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            validate_email(options["email"])
        except ValidationError as error:
            raise CommandError(f"not an email address: {options['email']!r}") from error
        reference = options["reference"].strip()
        if not reference:
            raise CommandError("--reference must not be empty")
        merchant = shop_option(options["shop"])
        result = customer_data_erase(
            email=options["email"],
            reference=reference,
            merchant=merchant,
            dry_run=options["dry_run"],
        )
        verb = "would be erased" if options["dry_run"] else "erased"
        for name, count in result.counts.items():
            self.stdout.write(f"{name} {verb}: {count}")
        self.stdout.write(
            f"fiscal documents kept (receipts, refund notes): {result.fiscal_documents_kept}"
        )
        self.stdout.write(f"shops: {', '.join(m.name for m in result.merchants) or 'none'}")
        if not options["dry_run"] and result.merchants:
            self.stdout.write(
                "Also erase the customer at the payment provider (Stripe dashboard: the "
                "customer's payments carry their email as receipt_email and in billing details)."
            )
