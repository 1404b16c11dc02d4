from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VposConfig(AppConfig):
    name = "vpos"
    verbose_name = _("vpos platform")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The filesystem broker needs its folders before the first message.
        from django.conf import settings

        options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {})
        if settings.CELERY_BROKER_URL.startswith("filesystem"):
            from pathlib import Path

            for key in ("data_folder_in", "processed_folder", "control_folder"):
                Path(options[key]).mkdir(parents=True, exist_ok=True)
