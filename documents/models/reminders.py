"""催办: one row per reminder sent. Automatic kinds are unique per receipt, so never sent twice."""
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ReminderKind(models.TextChoices):
    BEFORE = "before", _("到期前提醒")
    DUE = "due", _("到期催办")
    ESCALATE = "escalate", _("逾期报告领导")
    MANUAL = "manual", _("人工催办")


class Reminder(models.Model):
    receipt = models.ForeignKey("documents.Receipt", on_delete=models.CASCADE, related_name="reminders")
    kind = models.CharField(max_length=10, choices=ReminderKind.choices)
    message = models.CharField(max_length=500, blank=True)
    people = models.JSONField(default=list)  # Person ids it went to
    sent_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                related_name="+")
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["receipt", "sent_at"]
        constraints = [
            models.UniqueConstraint(fields=["receipt", "kind"], condition=~Q(kind="manual"),
                                    name="reminder_auto_once"),
        ]
