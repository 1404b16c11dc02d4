"""`manage.py recover_from_provider --since 2026-12-01T02:00+01:00`

After restoring the database from a backup: recreate, exactly once, the payments and refunds the
provider holds since `--since` (take it a little before the backup's time) and move every shop's
receipt and refund-note sequences past any number already issued. Safe to run again. See
receipts/recovery.py and docs/deploy.md ("Backups and restore").
"""

from __future__ import annotations

import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from links.providers import ProviderError
from receipts.recovery import recover_from_provider


def _moment(value: str) -> datetime.datetime:
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError as error:
        raise CommandError(
            f"not a date or time (YYYY-MM-DD or YYYY-MM-DDTHH:MM[+ZZ:ZZ]): {value!r}"
        ) from error
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


class Command(BaseCommand):
    help = "After a database restore: recreate the payments and refunds the provider holds."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--since",
            required=True,
            help="a little before the backup was taken: YYYY-MM-DD or an ISO date and time "
            "(the server's time zone unless given)",
        )

    def handle(self, *args: Any, since: str, **options: Any) -> None:
        moment = _moment(since)
        if moment > timezone.now():
            raise CommandError("--since is in the future")
        try:
            report = recover_from_provider(since=moment)
        except ProviderError as error:
            if error.code == "no_account":
                raise CommandError(error.message) from error
            raise CommandError(
                f"the payment provider could not be asked ({error.message}); what was "
                "recovered so far stays: run the command again to finish"
            ) from error
        counts = report.counts
        self.stdout.write(
            f"PaymentIntents since {moment.isoformat()}: {counts['seen']}; "
            f"payments recreated: {counts['recreated']}; settled: {counts['settled']}; "
            f"refunds recreated: {counts['refunds_recreated']}."
        )
        for moved in report.sequences_moved:
            self.stdout.write(f"sequence moved past {moved}")
        for problem in report.unrecoverable:
            self.stderr.write(f"not recovered: {problem}")
