"""The archive's own rows: 全宗, the 件 and its components, 档号 sequences, metadata versions,
四性 check runs, fixity alerts, disposal (到期鉴定, 销毁清册) and access (借阅).

Rules and codes follow DA/T 22-2015 (see shared/reference/archive.md).
"""
import re

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

CODE_RE = re.compile(r"^[A-Za-z0-9]{1,20}$")  # 全宗号 and 机构代码: ASCII letters and digits
CATEGORY = "WS"  # 门类代码 for 文书 (DA/T 22-2015 6.1)


class Retention(models.TextChoices):
    PERMANENT = "Y", _("永久")
    D30 = "D30", _("定期30年")
    D10 = "D10", _("定期10年")


RETENTION_YEARS = {"Y": None, "D30": 30, "D10": 10}


class Direction(models.TextChoices):
    SENT = "sent", _("发文")
    RECEIVED = "received", _("收文")


class Fonds(models.Model):
    """全宗: the records of one 立档单位 (a government, a bureau, a town)."""

    code = models.CharField(_("全宗号"), max_length=20, unique=True)
    name = models.CharField(_("全宗名称"), max_length=100)
    unit = models.OneToOneField("office.Unit", on_delete=models.PROTECT, related_name="archive_fonds")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return f"{self.code} {self.name}"


class UnitSetting(models.Model):
    """Per unit: which 全宗 its records go into (a village goes to its town's by default) and
    whether a 请示 and its 批复 make one 件 (DA/T 22-2015 allows one or two)."""

    unit = models.OneToOneField("office.Unit", on_delete=models.CASCADE, related_name="archive_setting")
    fonds = models.ForeignKey(Fonds, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    request_with_reply = models.BooleanField(default=True)


class OrgCode(models.Model):
    """机构(问题) codes of a 全宗, one per department of the 立档单位."""

    fonds = models.ForeignKey(Fonds, on_delete=models.CASCADE, related_name="org_codes")
    unit = models.ForeignKey("office.Unit", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    code = models.CharField(_("机构代码"), max_length=20)
    name = models.CharField(_("机构名称"), max_length=100)

    class Meta:
        ordering = ["fonds", "code"]
        constraints = [models.UniqueConstraint(fields=["fonds", "code"], name="archive_orgcode_unique")]


class RetentionRule(models.Model):
    """归档范围与保管期限表: the first matching row (lowest order) suggests the 保管期限."""

    fonds = models.ForeignKey(Fonds, null=True, blank=True, on_delete=models.CASCADE, related_name="rules")
    order = models.PositiveIntegerField(default=100)
    doc_type = models.CharField(_("文种"), max_length=4, blank=True)
    direction = models.CharField(_("收发"), max_length=8, blank=True, choices=Direction.choices)
    sender_level = models.PositiveSmallIntegerField(_("来文机关层级"), null=True, blank=True)
    keyword = models.CharField(_("问题（题名关键词）"), max_length=50, blank=True)
    retention = models.CharField(_("保管期限"), max_length=3, choices=Retention.choices)
    note = models.CharField(_("说明"), max_length=200, blank=True)

    class Meta:
        ordering = ["order", "id"]


class ItemState(models.TextChoices):
    SUBMITTED = "submitted", _("待接收")
    RETURNED = "returned", _("已退回")
    ACCEPTED = "accepted", _("已归档")
    DESTROYED = "destroyed", _("已销毁")


FROZEN_STATES = (ItemState.ACCEPTED, ItemState.DESTROYED)


class Item(models.Model):
    """件: one filed unit of records, assembled from the flow's rows (DA/T 22-2015 5.1)."""

    fonds = models.ForeignKey(Fonds, on_delete=models.PROTECT, related_name="items")
    unit = models.ForeignKey("office.Unit", on_delete=models.PROTECT, related_name="+")
    direction = models.CharField(max_length=8, choices=Direction.choices)
    document = models.ForeignKey("documents.Document", on_delete=models.PROTECT, related_name="+")
    receipt = models.ForeignKey("documents.Receipt", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="+")
    state = models.CharField(max_length=10, choices=ItemState.choices, default=ItemState.SUBMITTED)

    year = models.PositiveIntegerField(_("年度"))
    retention = models.CharField(_("保管期限"), max_length=3, choices=Retention.choices)
    org_code = models.CharField(_("机构代码"), max_length=20)
    org_name = models.CharField(_("机构(问题)"), max_length=100)
    seq = models.PositiveIntegerField(_("件号"), null=True, blank=True)
    archival_code = models.CharField(_("档号"), max_length=80, null=True, blank=True, unique=True)

    title = models.CharField(_("题名"), max_length=300)
    doc_number = models.CharField(_("文号"), max_length=60, blank=True)
    responsible = models.CharField(_("责任者"), max_length=200)
    doc_date = models.DateField(_("日期"))
    doc_type = models.CharField(_("文种"), max_length=4)
    urgency = models.CharField(_("紧急程度"), max_length=4, blank=True)
    pages = models.PositiveIntegerField(_("页数"), default=0)
    reason_due = models.CharField(max_length=200, blank=True)
    metadata = models.JSONField(default=dict)  # DA/T 46 entities as captured at filing
    search_text = models.TextField(default="", blank=True)

    filed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    filed_name = models.CharField(max_length=100)
    filed_at = models.DateTimeField(default=timezone.now)
    accepted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    accepted_name = models.CharField(max_length=100, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    return_reason = models.CharField(max_length=500, blank=True)
    returned_name = models.CharField(max_length=100, blank=True)
    returned_at = models.DateTimeField(null=True, blank=True)
    destroyed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["fonds", "year", "retention", "org_code", "seq", "id"]
        constraints = [
            models.UniqueConstraint(fields=["unit", "document", "direction"], name="archive_item_once"),
            models.UniqueConstraint(fields=["fonds", "year", "retention", "org_code", "seq"],
                                    condition=Q(seq__isnull=False), name="archive_item_seq_unique"),
        ]
        indexes = [models.Index(fields=["fonds", "state", "year"]), models.Index(fields=["state", "unit"])]

    def __str__(self):
        return self.archival_code or f"#{self.id} {self.title}"

    @property
    def frozen(self):
        return self.state in FROZEN_STATES

    def save(self, *args, **kwargs):
        # The last line of defence behind the actions: an accepted 件 is never rewritten.
        if self.pk:
            stored = type(self).objects.filter(pk=self.pk).values_list("state", flat=True).first()
            if stored in FROZEN_STATES and not getattr(self, "_allow_frozen_write", False):
                from office.errors import ActionError

                raise ActionError(_("已归档的件不可修改；更正请提交新的元数据版本。"), status=409)
        super().save(*args, **kwargs)


class ComponentRole(models.TextChoices):
    FORM = "form", _("收文处理单")
    ORIGINAL = "original", _("正本")
    FINAL = "final", _("定稿（含发文稿纸与签发记录）")
    DOCUMENT = "document", _("来文")
    OFD = "ofd", _("版式文件（OFD，含国密签章）")
    FORWARDED = "forwarded", _("被转发文件")
    REPLY = "reply", _("批复")
    ATTACHMENT = "attachment", _("附件")
    RENDITION = "rendition", _("归档版本（首页加盖归档章）")


class Component(models.Model):
    """One file of a 件, stored through Django's storage API, with its fixity recorded at filing."""

    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="components")
    order = models.PositiveIntegerField()
    role = models.CharField(max_length=10, choices=ComponentRole.choices)
    name = models.CharField(max_length=200)
    storage_name = models.CharField(max_length=300)
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64)
    sm3 = models.CharField(max_length=64)
    mime = models.CharField(max_length=100, default="application/pdf")
    pages = models.PositiveIntegerField(default=0)
    signed = models.BooleanField(default=False)  # carries seals that must verify (PAdES in a PDF, SM2 in an OFD)
    source = models.CharField(max_length=100, blank=True)  # the flow row it was taken from
    deleted_at = models.DateTimeField(null=True, blank=True)  # content destroyed (销毁)

    class Meta:
        ordering = ["item", "order", "id"]
        constraints = [models.UniqueConstraint(fields=["item", "order"], name="archive_component_order")]


class ClassSequence(models.Model):
    """The last 件号 of one class (全宗, 年度, 保管期限, 机构): locked while a number is taken."""

    fonds = models.ForeignKey(Fonds, on_delete=models.PROTECT, related_name="+")
    year = models.PositiveIntegerField()
    retention = models.CharField(max_length=3)
    org_code = models.CharField(max_length=20)
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["fonds", "year", "retention", "org_code"],
                                               name="archive_classseq_unique")]


class ItemVersion(models.Model):
    """A metadata correction after acceptance: never overwrites, each one a new version."""

    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="versions")
    no = models.PositiveIntegerField()
    changes = models.JSONField()  # {field: [old, new]}
    reason = models.CharField(max_length=500)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    by_name = models.CharField(max_length=100)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["item", "no"]
        constraints = [models.UniqueConstraint(fields=["item", "no"], name="archive_itemversion_no")]


class CheckStage(models.TextChoices):
    FILING = "filing", _("归档")
    TRANSFER = "transfer", _("移交")
    RECEIPT = "receipt", _("接收")
    PERIODIC = "periodic", _("定期检测")
    MANUAL = "manual", _("人工检测")


class CheckRun(models.Model):
    """One 四性 check over one 件 or a batch; `report` holds every item with its results."""

    stage = models.CharField(max_length=10, choices=CheckStage.choices)
    fonds = models.ForeignKey(Fonds, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    scope = models.CharField(max_length=200, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    ok = models.BooleanField(default=False)
    total = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    report = models.JSONField(default=dict)
    started_name = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]


class ItemCheck(models.Model):
    """The 四性 result of one 件 in one run (the item page shows the latest)."""

    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="checks")
    run = models.ForeignKey(CheckRun, null=True, blank=True, on_delete=models.CASCADE, related_name="items")
    stage = models.CharField(max_length=10, choices=CheckStage.choices)
    at = models.DateTimeField(default=timezone.now)
    ok = models.BooleanField()
    results = models.JSONField(default=list)

    class Meta:
        ordering = ["item", "-at", "-id"]


class FixityCursor(models.Model):
    """Where the periodic fixity pass stands (one row): resumable and restart-safe."""

    pass_no = models.PositiveIntegerField(default=0)
    last_component_id = models.BigIntegerField(default=0)
    pass_started_at = models.DateTimeField(null=True, blank=True)
    pass_finished_at = models.DateTimeField(null=True, blank=True)
    checked = models.PositiveBigIntegerField(default=0)
    bytes = models.PositiveBigIntegerField(default=0)
    failures = models.PositiveIntegerField(default=0)


class FixityAlert(models.Model):
    """A component whose fixity failed; open (in the 档案员's 待办) until acknowledged or until a
    later pass finds the component sound again."""

    component = models.ForeignKey(Component, on_delete=models.PROTECT, related_name="alerts")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="alerts")
    at = models.DateTimeField(default=timezone.now)
    problem = models.CharField(max_length=300)
    pass_no = models.PositiveIntegerField(default=0)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_name = models.CharField(max_length=100, blank=True)
    resolution = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [models.UniqueConstraint(fields=["component", "pass_no"], name="archive_alert_once")]
        indexes = [models.Index(fields=["resolved_at", "item"], name="archive_alert_open")]


class DecisionState(models.TextChoices):
    PENDING = "pending", _("待审批")
    APPROVED = "approved", _("已批准")
    REJECTED = "rejected", _("未批准")


class Disposal(models.Model):
    """到期鉴定: the 档案员 proposes to keep (with a new period) or destroy; a leader decides destruction."""

    KEEP = "keep"
    DESTROY = "destroy"
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="disposals")
    action = models.CharField(max_length=8, choices=[(KEEP, _("续存")), (DESTROY, _("销毁"))])
    new_retention = models.CharField(max_length=3, blank=True, choices=Retention.choices)
    reason = models.CharField(max_length=500)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    proposed_name = models.CharField(max_length=100)
    proposed_at = models.DateTimeField(default=timezone.now)
    state = models.CharField(max_length=10, choices=DecisionState.choices, default=DecisionState.PENDING)
    decided_name = models.CharField(max_length=100, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-proposed_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["item"], condition=Q(state="pending"),
                                               name="archive_disposal_one_pending")]


class DestructionEntry(models.Model):
    """销毁清册: one line per destroyed 件, kept permanently (never deleted, PROTECT everywhere)."""

    item = models.OneToOneField(Item, on_delete=models.PROTECT, related_name="destruction")
    disposal = models.OneToOneField(Disposal, on_delete=models.PROTECT, related_name="+")
    fonds = models.ForeignKey(Fonds, on_delete=models.PROTECT, related_name="+")
    archival_code = models.CharField(max_length=80)
    title = models.CharField(max_length=300)
    doc_number = models.CharField(max_length=60, blank=True)
    year = models.PositiveIntegerField()
    retention = models.CharField(max_length=3)
    pages = models.PositiveIntegerField(default=0)
    proposed_name = models.CharField(max_length=100)
    approved_name = models.CharField(max_length=100)
    reason = models.CharField(max_length=500)
    destroyed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["fonds", "-destroyed_at", "id"]

    def delete(self, *args, **kwargs):
        from office.errors import ActionError

        raise ActionError(_("销毁清册永久保存，不能删除。"), status=409)


class AccessRequest(models.Model):
    """借阅: someone outside the 全宗's unit asks to see a 件; a leader of that unit decides."""

    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="access_requests")
    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    person_name = models.CharField(max_length=100)
    unit_name = models.CharField(max_length=100)
    reason = models.CharField(max_length=500)
    until = models.DateField()
    state = models.CharField(max_length=10, choices=DecisionState.choices, default=DecisionState.PENDING)
    decided_name = models.CharField(max_length=100, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["person", "state", "until"])]
