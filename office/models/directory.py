"""The log of directory synchronisations (目录同步记录), written by `manage.py ldap_sync`."""
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class DirectorySync(models.Model):
    """One run of ldap_sync: when, whether it only looked (dry run), what it changed, what it could not."""

    class Status(models.TextChoices):
        RUNNING = "running", _("进行中")
        OK = "ok", _("完成")
        FAILED = "failed", _("失败")

    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    dry_run = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    # {"units": {"created": n, "updated": n, "deactivated": n}, "people": {...}, "posts": {...},
    #  "seen": {"units": n, "people": n}}
    summary = models.JSONField(default=dict, blank=True)
    conflicts = models.JSONField(default=list, blank=True)  # [{"dn": ..., "reason": ...}]
    error = models.TextField(blank=True)
    started_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("目录同步记录")
        verbose_name_plural = _("目录同步记录")

    def __str__(self):
        return f"DirectorySync #{self.pk} {self.status}"
