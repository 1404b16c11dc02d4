from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReceiptsConfig(AppConfig):
    name = "receipts"
    verbose_name = _("Receipts")

    def ready(self) -> None:
        from . import subscribers

        subscribers.connect()
