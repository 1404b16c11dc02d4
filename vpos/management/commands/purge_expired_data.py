"""`manage.py purge_expired_data`: what the daily retention task does, now (docs/deploy.md)."""

from typing import Any

from django.core.management.base import BaseCommand

from vpos.retention import retention_run


class Command(BaseCommand):
    help = "Purge what the retention settings no longer keep (the daily task, run now)."

    def handle(self, *args: Any, **options: Any) -> None:
        for name, count in retention_run().items():
            self.stdout.write(f"{name}: {count}")
