from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = _("API and webhooks")

    def ready(self) -> None:
        from . import subscribers
        from .api_keys import connect_signals

        connect_signals()
        subscribers.connect()
