"""The steps a draft passes before it is frozen: 审核 (review), 会签 (countersign), 签发 (sign-off).

Steps of one round with the same `order` run in parallel; a higher order waits for all lower
ones. A step targets a post (review, sign-off) or a unit (会签 by a department).
"""
from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class StepKind(models.TextChoices):
    REVIEW = "review", _("审核")
    COUNTERSIGN = "countersign", _("会签")
    SIGNOFF = "signoff", _("签发")


class StepState(models.TextChoices):
    PENDING = "pending", _("待办理")
    DONE = "done", _("已办理")
    RETURNED = "returned", _("已退回")
    CANCELLED = "cancelled", _("已撤销")


class Decision(models.TextChoices):
    AGREE = "agree", _("同意")
    AGREE_WITH_OPINION = "opinion", _("原则同意（附意见）")
    RETURN = "return", _("退回修改")


class Step(models.Model):
    document = models.ForeignKey("documents.Document", on_delete=models.CASCADE, related_name="steps")
    round = models.PositiveIntegerField()
    order = models.PositiveIntegerField()
    kind = models.CharField(max_length=12, choices=StepKind.choices)
    post = models.ForeignKey("office.Post", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey("office.Unit", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=10, choices=StepState.choices, default=StepState.PENDING)
    decision = models.CharField(max_length=8, choices=Decision.choices, blank=True)
    opinion = models.TextField(blank=True)
    acted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+")
    acted_post = models.ForeignKey("office.Post", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # 代签: the post the actor acted for (a Delegation), with the names as they were.
    acted_for_post = models.ForeignKey("office.Post", null=True, blank=True, on_delete=models.PROTECT,
                                       related_name="+")
    acted_name = models.CharField(max_length=100, blank=True)
    acted_for_name = models.CharField(max_length=100, blank=True)
    acted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["document", "round", "order", "id"]
        indexes = [models.Index(fields=["state", "post"]), models.Index(fields=["state", "unit"])]

    def __str__(self):
        return f"{self.get_kind_display()} #{self.id}"
