"""发文字号, 令号 and 收文号 sequences: one row per (kind, prefix, year), locked while a number is taken."""
from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class NumberSequence(models.Model):
    SEND = "send"
    RECEIVE = "receive"
    ORDER = "order"  # 令号 of 命令: 第N号, one sequence per issuing organ, running on across years

    kind = models.CharField(max_length=8, default=SEND,
                            choices=[(SEND, _("发文")), (RECEIVE, _("收文")), (ORDER, _("令号"))])
    # 机关代字 (e.g. 咸政发); for 收文 and 令号, "unit:<id>" of the unit that numbers
    prefix = models.CharField(max_length=40)
    year = models.PositiveIntegerField()  # 0 for 令号
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "prefix", "year"], name="numberseq_unique")]

    def __str__(self):
        return f"{self.prefix}〔{self.year}〕{self.last}"


class VoidedNumber(models.Model):
    """A 字号 that was taken and then voided: recorded with its reason, never reused."""

    sequence = models.ForeignKey(NumberSequence, on_delete=models.PROTECT, related_name="voided")
    seq = models.PositiveIntegerField()
    number = models.CharField(max_length=60)
    document = models.ForeignKey("documents.Document", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="voided_numbers")
    reason = models.CharField(max_length=300)
    voided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    voided_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["sequence", "seq"], name="voided_unique")]
