"""核发 and 收文: a Dispatch sends a document; each recipient unit gets one Receipt.

On a receipt the recipient works: 签收, 退文, 登记 (own 收文号), 拟办, 批办, 承办 (Assignment),
传阅 (Circulation), 办结; and may answer (Reply) or forward it (Forward).
"""
from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Dispatch(models.Model):
    document = models.OneToOneField("documents.Document", on_delete=models.PROTECT, related_name="dispatch")
    sent_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    sent_post = models.ForeignKey("office.Post", on_delete=models.PROTECT, related_name="+")
    sent_at = models.DateTimeField(default=timezone.now)
    recipient_count = models.PositiveIntegerField(default=0)


class RecipientRole(models.TextChoices):
    MAIN = "main", _("主送")
    CC = "cc", _("抄送")


class ReceiptState(models.TextChoices):
    DELIVERED = "delivered", _("已送达")
    SIGNED = "signed", _("已签收")
    RETURNED = "returned", _("已退文")
    REGISTERED = "registered", _("已登记")
    HANDLING = "handling", _("办理中")
    DONE = "done", _("已办结")


OPEN_RECEIPT_STATES = (ReceiptState.DELIVERED, ReceiptState.SIGNED, ReceiptState.REGISTERED, ReceiptState.HANDLING)


class Receipt(models.Model):
    dispatch = models.ForeignKey(Dispatch, on_delete=models.PROTECT, related_name="receipts")
    document = models.ForeignKey("documents.Document", on_delete=models.PROTECT, related_name="receipts")
    unit = models.ForeignKey("office.Unit", on_delete=models.PROTECT, related_name="receipts")
    role = models.CharField(max_length=4, choices=RecipientRole.choices, default=RecipientRole.MAIN)
    state = models.CharField(max_length=12, choices=ReceiptState.choices, default=ReceiptState.DELIVERED)
    delivered_at = models.DateTimeField(default=timezone.now)
    deadline = models.DateTimeField(null=True, blank=True)

    signed_at = models.DateTimeField(null=True, blank=True)
    signed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+")
    signed_name = models.CharField(max_length=100, blank=True)

    returned_at = models.DateTimeField(null=True, blank=True)
    return_reason = models.CharField(max_length=500, blank=True)

    registered_no = models.CharField(_("收文号"), max_length=40, blank=True)
    registered_at = models.DateTimeField(null=True, blank=True)

    proposal = models.TextField(_("拟办意见"), blank=True)
    proposal_by = models.CharField(max_length=100, blank=True)
    proposal_at = models.DateTimeField(null=True, blank=True)
    instruction = models.TextField(_("批办意见"), blank=True)
    instruction_by = models.CharField(max_length=100, blank=True)
    instruction_at = models.DateTimeField(null=True, blank=True)

    done_at = models.DateTimeField(null=True, blank=True)
    done_note = models.CharField(max_length=500, blank=True)
    done_by = models.CharField(max_length=100, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-delivered_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["document", "unit"], name="receipt_one_per_unit")]
        indexes = [
            models.Index(fields=["unit", "-delivered_at"]),
            models.Index(fields=["unit", "state"]),
            models.Index(fields=["state", "deadline"]),
        ]

    def __str__(self):
        return f"{self.document_id} → {self.unit_id}"

    def is_overdue(self, now=None):
        now = now or timezone.now()
        return bool(self.deadline and self.state in OPEN_RECEIPT_STATES and self.deadline < now)

    def display_state(self, now=None):
        """delivered / signed / returned / overdue / done (overdue wins over open states)."""
        if self.is_overdue(now):
            return "overdue"
        if self.state == ReceiptState.DONE:
            return "done"
        if self.state == ReceiptState.RETURNED:
            return "returned"
        if self.state == ReceiptState.DELIVERED:
            return "delivered"
        return "signed"


class Assignment(models.Model):
    """承办: a received document assigned to a department or a person, with a deadline."""

    receipt = models.ForeignKey(Receipt, on_delete=models.CASCADE, related_name="assignments")
    unit = models.ForeignKey("office.Unit", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    person = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                               related_name="document_assignments")
    deadline = models.DateTimeField()
    note = models.CharField(max_length=500, blank=True)
    assigned_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    assigned_at = models.DateTimeField(default=timezone.now)
    done_at = models.DateTimeField(null=True, blank=True)
    result = models.TextField(blank=True)

    class Meta:
        ordering = ["receipt", "id"]
        indexes = [models.Index(fields=["person", "done_at"]), models.Index(fields=["unit", "done_at"])]


class Circulation(models.Model):
    """传阅: the document goes from leader to leader in order; the first unread one holds it now."""

    receipt = models.ForeignKey(Receipt, on_delete=models.CASCADE, related_name="circulations")
    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="document_circulations")
    post = models.ForeignKey("office.Post", on_delete=models.PROTECT, related_name="+")
    order = models.PositiveIntegerField()
    sent_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["receipt", "order", "id"]
        indexes = [models.Index(fields=["person", "read_at"])]


class Reply(models.Model):
    """答复: a recipient's answer to a document; a 批复 (reply_document) answers a 请示."""

    document = models.ForeignKey("documents.Document", on_delete=models.CASCADE, related_name="replies")
    receipt = models.ForeignKey(Receipt, null=True, blank=True, on_delete=models.CASCADE, related_name="replies")
    unit = models.ForeignKey("office.Unit", on_delete=models.PROTECT, related_name="+")
    text = models.TextField(blank=True)
    reply_document = models.ForeignKey("documents.Document", null=True, blank=True, on_delete=models.PROTECT,
                                       related_name="answers")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_name = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["document", "created_at", "id"]


class Forward(models.Model):
    """转发: `cover` (the forwarding unit's own document) forwards `original`, received via `receipt`."""

    original = models.ForeignKey("documents.Document", on_delete=models.PROTECT, related_name="forwarded_as")
    cover = models.OneToOneField("documents.Document", on_delete=models.CASCADE, related_name="forward")
    receipt = models.ForeignKey(Receipt, null=True, blank=True, on_delete=models.PROTECT, related_name="forwards")
    unit = models.ForeignKey("office.Unit", on_delete=models.PROTECT, related_name="+")
    view = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["original", "created_at"]
