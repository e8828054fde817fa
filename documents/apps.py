from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DocumentsConfig(AppConfig):
    name = "documents"
    verbose_name = _("公文")

    def ready(self):
        import importlib

        try:  # registers the 待办 provider, once the app has one
            importlib.import_module("documents.todo")
        except ModuleNotFoundError as exc:
            if exc.name != "documents.todo":
                raise
