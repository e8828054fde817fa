from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OfficeConfig(AppConfig):
    name = "office"
    verbose_name = _("协同办公")

    def ready(self):
        from django.utils.module_loading import autodiscover_modules

        from office import signals  # noqa: F401

        # Each app's <app>/todo.py registers its 待办 provider (office names no app).
        autodiscover_modules("todo")
