from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LinksConfig(AppConfig):
    name = "links"
    verbose_name = _("Payment links")

    def ready(self) -> None:
        from . import subscribers

        subscribers.connect()
