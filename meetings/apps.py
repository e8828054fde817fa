from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MeetingsConfig(AppConfig):
    name = "meetings"
    verbose_name = _("会议与培训")

    def ready(self):
        import importlib

        try:  # registers the 待办 provider, once the app has one
            importlib.import_module("meetings.todo")
        except ModuleNotFoundError as exc:
            if exc.name != "meetings.todo":
                raise
