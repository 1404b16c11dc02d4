from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MerchantsConfig(AppConfig):
    name = "merchants"
    verbose_name = _("Shops and teams")

    def ready(self) -> None:
        from . import subscribers
        from .caching import connect_signals

        connect_signals()
        subscribers.connect()
