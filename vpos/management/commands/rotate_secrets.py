"""Re-encrypt every stored secret with the first key of FIELD_ENCRYPTION_KEY.

Rotation: put the new key in front (`FIELD_ENCRYPTION_KEY=new,old`), deploy, run this command,
then drop the old key. Every field declared as `EncryptedTextField` is rotated (shops' Stripe keys,
outbound webhook secrets, and any added later).
"""

from django.core.management.base import BaseCommand
from django.db import transaction

from vpos.crypto import encrypted_fields, rotate


class Command(BaseCommand):
    help = "Re-encrypt every stored secret (EncryptedTextField) with the current first key."

    def handle(self, *args, **options) -> None:
        with transaction.atomic():  # all or nothing: never half the secrets on the new key
            for model, names in encrypted_fields():
                count = 0
                for row in model.objects.select_for_update().only("pk", *names):
                    for name in names:
                        setattr(row, name, rotate(getattr(row, name)))
                    row.save(update_fields=names)
                    count += 1
                self.stdout.write(f"{model._meta.label}: {count} row(s), fields {', '.join(names)}")
        self.stdout.write(self.style.SUCCESS("Every stored secret is on the first key."))
