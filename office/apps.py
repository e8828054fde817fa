from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OfficeConfig(AppConfig):
    name = "office"
    verbose_name = _("协同办公")

    def ready(self):
        from office import signals  # noqa: F401
