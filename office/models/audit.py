"""The hash-chained audit log (审计日志)."""
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AuditEntry(models.Model):
    """审计记录: one entry of an append-only chain; each holds the hash of the one before.

    Written without any lock (seq and the hashes empty); the sealer (office/audit.py seal()) then
    chains the committed entries in batches: it gives each its place (seq) and its hashes.
    """

    seq = models.BigIntegerField(unique=True, null=True, blank=True)  # None until sealed
    at = models.DateTimeField(default=timezone.now)
    action = models.CharField(max_length=64, db_index=True)
    person_id_at = models.BigIntegerField(null=True, blank=True)  # ids kept even if the row goes
    person_name = models.CharField(max_length=150, blank=True)
    post_id_at = models.BigIntegerField(null=True, blank=True)
    unit_name = models.CharField(max_length=100, blank=True)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True, db_index=True)
    ip = models.CharField(max_length=45, blank=True)
    data = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64, blank=True)
    entry_hash = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["id"], condition=models.Q(seq__isnull=True), name="audit_unsealed")]
        verbose_name = _("审计记录")


class AuditHead(models.Model):
    """The chain's head: one row, locked while the sealer chains a batch of entries."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="0" * 64)
