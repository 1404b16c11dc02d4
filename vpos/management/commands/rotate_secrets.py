"""Re-encrypt every stored secret with the first key of FIELD_ENCRYPTION_KEY.

Rotation: put the new key in front (`FIELD_ENCRYPTION_KEY=new,old`), deploy, run this command,
then drop the old key.
"""

from django.core.management.base import BaseCommand
from django.db import transaction

from merchants.models import PaymentAccount
from vpos.crypto import rotate


class Command(BaseCommand):
    help = "Re-encrypt stored Stripe keys and webhook secrets with the current first key."

    def handle(self, *args, **options) -> None:
        count = 0
        with transaction.atomic():
            for account in PaymentAccount.objects.select_for_update():
                account.secret_key_encrypted = rotate(account.secret_key_encrypted)
                account.webhook_secret_encrypted = rotate(account.webhook_secret_encrypted)
                account.save(update_fields=["secret_key_encrypted", "webhook_secret_encrypted"])
                count += 1
        self.stdout.write(
            self.style.SUCCESS(f"Re-encrypted the secrets of {count} payment account(s).")
        )
