"""The 公文 itself: its elements (gongwen.md, Art. 9), versions and attachments.

Field names follow the elements of gongwen.md so that the renderer's adapter can read them:
title (标题), doc_type (文种), urgency (紧急程度), disclosure (公开属性), main_recipients (主送机关),
cc_recipients (抄送机关), body (正文, structured blocks), attachment_notes (附件说明), signer_names
(签发人), signed_at (成文日期), remark (附注), issued_by (印发机关), issued_on (印发日期),
number (发文字号).
"""
from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class DocType(models.TextChoices):
    RESOLUTION = "决议", _("决议")
    DECISION = "决定", _("决定")
    ORDER = "命令", _("命令(令)")
    COMMUNIQUE = "公报", _("公报")
    ANNOUNCEMENT = "公告", _("公告")
    PUBLIC_NOTICE = "通告", _("通告")
    OPINION = "意见", _("意见")
    NOTICE = "通知", _("通知")
    CIRCULAR = "通报", _("通报")
    REPORT = "报告", _("报告")
    REQUEST = "请示", _("请示")
    APPROVAL = "批复", _("批复")
    MOTION = "议案", _("议案")
    LETTER = "函", _("函")
    MINUTES = "纪要", _("纪要")


UPWARD_TYPES = (DocType.REQUEST, DocType.REPORT)
# Types that carry directive instructions (a government's departments may not send these to a
# lower government).
DIRECTIVE_TYPES = (DocType.RESOLUTION, DocType.DECISION, DocType.ORDER, DocType.OPINION, DocType.NOTICE,
                   DocType.CIRCULAR, DocType.APPROVAL)


class Urgency(models.TextChoices):
    NONE = "", _("无")
    URGENT = "加急", _("加急")
    EXTRA_URGENT = "特急", _("特急")


class Disclosure(models.TextChoices):
    ACTIVE = "主动公开", _("主动公开")
    ON_REQUEST = "依申请公开", _("依申请公开")
    CLOSED = "不予公开", _("不予公开")


class DocState(models.TextChoices):
    DRAFT = "draft", _("起草中")
    REVIEW = "review", _("审核中")
    COUNTERSIGN = "countersign", _("会签中")
    SIGNOFF = "signoff", _("待签发")
    RETURNED = "returned", _("已退回修改")
    SIGNED = "signed", _("已签发（定稿）")
    REGISTERED = "registered", _("已登记")
    DISPATCHED = "dispatched", _("已分发")
    CANCELLED = "cancelled", _("已作废")


class Document(models.Model):
    unit = models.ForeignKey("office.Unit", on_delete=models.PROTECT, related_name="documents",
                             verbose_name=_("发文机关"))
    drafted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="drafted_documents")
    drafted_post = models.ForeignKey("office.Post", on_delete=models.PROTECT, related_name="+")
    co_issuers = models.ManyToManyField("office.Unit", blank=True, related_name="joint_documents",
                                        verbose_name=_("联合发文机关"))

    doc_type = models.CharField(_("文种"), max_length=4, choices=DocType.choices)
    title = models.CharField(_("标题"), max_length=200)
    urgency = models.CharField(_("紧急程度"), max_length=4, choices=Urgency.choices, blank=True, default="")
    disclosure = models.CharField(_("公开属性"), max_length=8, choices=Disclosure.choices, default=Disclosure.ACTIVE)
    main_recipients = models.ManyToManyField("office.Unit", blank=True, related_name="documents_main",
                                             verbose_name=_("主送机关"))
    cc_recipients = models.ManyToManyField("office.Unit", blank=True, related_name="documents_cc",
                                           verbose_name=_("抄送机关"))
    # How the 主送 line reads when it names a whole level, e.g. 各镇人民政府、街道办事处 (empty: list names).
    main_recipients_label = models.CharField(_("主送机关表述"), max_length=300, blank=True)
    # The recipient specs as entered (unit ids and "under:<id>:<kind>" scopes), kept for re-editing.
    recipient_spec = models.JSONField(default=dict, blank=True)
    # 正文: [{"kind": "p"|"h1".."h4", "text": ...} | {"kind": "table", "rows": [[...]]}]
    body = models.JSONField(_("正文"), default=list, blank=True)
    body_text = models.TextField(default="", blank=True, editable=False)  # flattened, for search
    attachment_notes = models.JSONField(_("附件说明"), default=list, blank=True)
    remark = models.CharField(_("附注"), max_length=300, blank=True)
    response_deadline = models.DateTimeField(_("办理时限"), null=True, blank=True)

    state = models.CharField(max_length=12, choices=DocState.choices, default=DocState.DRAFT, db_index=True)
    version = models.PositiveIntegerField(default=1)
    round = models.PositiveIntegerField(default=0)  # approval round (each submission starts one)

    # Fixed at sign-off (签发) and registration (登记).
    signer_names = models.JSONField(_("签发人"), default=list, blank=True)
    signed_at = models.DateField(_("成文日期"), null=True, blank=True)
    number = models.CharField(_("发文字号"), max_length=60, blank=True, db_index=True)
    number_prefix = models.CharField(max_length=30, blank=True)
    number_year = models.PositiveIntegerField(null=True, blank=True)
    number_seq = models.PositiveIntegerField(null=True, blank=True)
    copies = models.PositiveIntegerField(_("份数"), default=0)
    registered_at = models.DateTimeField(null=True, blank=True)
    issued_by = models.ForeignKey("office.Unit", null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+", verbose_name=_("印发机关"))
    issued_on = models.DateField(_("印发日期"), null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True, db_index=True)

    # Links: 答复 (reply to a received document) and 转发 (a cover notice forwarding an original).
    reply_to = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="replies_docs")
    reply_receipt = models.ForeignKey("documents.Receipt", null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="+")
    forward_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="forwards_docs")
    forward_receipt = models.ForeignKey("documents.Receipt", null=True, blank=True, on_delete=models.PROTECT,
                                        related_name="+")
    forward_view = models.TextField(_("转报意见"), blank=True)

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["unit", "state", "-created_at"])]
        constraints = [
            models.UniqueConstraint(fields=["number_prefix", "number_year", "number_seq"],
                                    condition=models.Q(number_seq__isnull=False), name="document_number_unique"),
        ]
        verbose_name = _("公文")
        verbose_name_plural = _("公文")

    def __str__(self):
        return f"{self.number} {self.title}".strip()

    @property
    def is_upward(self):
        return self.doc_type in UPWARD_TYPES

    @property
    def is_frozen(self):
        return self.state in (DocState.SIGNED, DocState.REGISTERED, DocState.DISPATCHED)


def flatten_body(blocks):
    parts = []
    for block in blocks or []:
        if block.get("kind") == "table":
            for row in block.get("rows") or []:
                parts.append(" ".join(str(c) for c in row))
        else:
            parts.append(str(block.get("text", "")))
    return "\n".join(parts)


class DocumentVersion(models.Model):
    """A snapshot of the text: one per saved change; the one frozen at 签发 is the 定稿."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="versions")
    no = models.PositiveIntegerField()
    snapshot = models.JSONField()
    is_final = models.BooleanField(default=False)  # 定稿
    reason = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["document", "no"]
        constraints = [models.UniqueConstraint(fields=["document", "no"], name="docversion_unique_no")]


def attachment_path(instance, filename):
    return f"documents/{instance.document_id}/{filename}"


class Attachment(models.Model):
    """附件: a file that travels with the document."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="attachments")
    name = models.CharField(max_length=200)
    file = models.FileField(upload_to=attachment_path, max_length=300)
    size = models.PositiveBigIntegerField(default=0)
    content_type = models.CharField(max_length=100, blank=True)
    order = models.PositiveIntegerField(default=0)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["document", "order", "id"]
