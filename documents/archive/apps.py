from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ArchiveConfig(AppConfig):
    name = "documents.archive"
    label = "archive"
    verbose_name = _("档案")
    default_auto_field = "django.db.models.BigAutoField"
