"""A plain description of a 公文, independent of the database models.

Everything the renderers (PDF, .docx) need, with the elements of GB/T 9704-2012
and Art. 9 of the Regulations. documents/render/adapter.py builds one from a
stored document.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal, Union

DOC_TYPES = (
    "决议", "决定", "命令", "公报", "公告", "通告", "意见", "通知",
    "通报", "报告", "请示", "批复", "议案", "函", "纪要",
)
UPWARD_TYPES = ("请示", "报告")
URGENCY = ("", "特急", "加急")
CLASSIFIED_MARKS = ("秘密", "机密", "绝密")


@dataclass
class Paragraph:
    """A body paragraph; `lead` is an optional run-in heading in another font
    (e.g. "（一）工作目标。" in 楷体 followed by ordinary text)."""

    text: str
    lead: str = ""
    lead_level: int = 0  # heading level whose font the lead uses (0 = none)
    kind: Literal["paragraph"] = "paragraph"


@dataclass
class Heading:
    """A heading line: level 1 一、(黑体), 2 （一）(楷体), 3 1.(仿宋), 4 （1）(仿宋).
    The text carries its own number, e.g. "一、总体要求"."""

    level: int
    text: str
    kind: Literal["heading"] = "heading"


@dataclass
class Table:
    rows: list[list[str]]
    header_rows: int = 1
    col_widths: list[float] | None = None  # relative widths
    kind: Literal["table"] = "table"


@dataclass
class Image:
    data: bytes
    width_mm: float = 100.0
    height_mm: float | None = None
    kind: Literal["image"] = "image"


Block = Union[Paragraph, Heading, Table, Image]


@dataclass
class Seal:
    """One 署名 with its seal. `picture` is PNG bytes (RGBA, red); None = no
    seal picture drawn (e.g. the seal is applied as a signature stamp later)."""

    organ: str
    picture: bytes | None = None
    unit_id: int | None = None


@dataclass
class RenderDoc:
    doc_type: str = "通知"
    organs: list[str] = field(default_factory=list)  # 发文机关 names (joint: several, lead first)
    header_suffix: str = "文件"  # after the organ name in the 标志; "" for 函 and 纪要 sometimes
    doc_number: str = ""  # 发文字号, e.g. 咸政发〔2026〕12号
    copy_no: str = ""  # 份号 (only classified documents, which this system refuses; kept for completeness)
    signers: list[str] = field(default_factory=list)  # 签发人 (upward documents; joint: every signer)
    urgency: str = ""  # "", 特急, 加急
    title: str = ""
    recipients: list[str] = field(default_factory=list)  # 主送机关
    body: list[Block] = field(default_factory=list)
    footnotes: list[str] = field(default_factory=list)  # notes referenced as ［注1］ in the body
    attachments: list[str] = field(default_factory=list)  # 附件说明 names
    signatures: list[Seal] = field(default_factory=list)  # 署名 (with seals)
    seal_layout: bool = True  # False: 不加盖印章 layout (署名 right-indented 2, no seal place)
    date: dt.date | None = None  # 成文日期
    note: str = ""  # 附注, without brackets
    cc: list[str] = field(default_factory=list)  # 抄送机关
    printer: str = ""  # 印发机关
    print_date: dt.date | None = None  # 印发日期
    variant: Literal["standard", "letter", "order", "minutes"] = "standard"
    attendees: list[tuple[str, str]] = field(default_factory=list)  # 纪要: (label, names), e.g. ("出席", "张三、李四")
    order_no: str = ""  # 命令: 第X号
    signed_by_title: str = ""  # 命令: e.g. 市长
    signed_by_name: str = ""  # 命令: name of the signer

    @property
    def is_upward(self) -> bool:
        return self.doc_type in UPWARD_TYPES or bool(self.signers)

    @property
    def sealed(self) -> bool:
        return bool(self.signatures)


def cn_date(d: dt.date | None) -> str:
    """2026年3月1日 (Arabic numerals, no leading zeros)."""
    if d is None:
        return ""
    return f"{d.year}年{d.month}月{d.day}日"
