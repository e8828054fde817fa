"""documents.models.Document → RenderDoc (and back to the flow's body JSON on import)."""
from __future__ import annotations

import re

from .model import Heading, Image, Paragraph, RenderDoc, Seal, Table

VARIANT_OF = {"函": "letter", "命令": "order", "纪要": "minutes"}
KIND_LEVEL = {"h1": 1, "h2": 2, "h3": 3, "h4": 4}
LEVEL_KIND = {v: k for k, v in KIND_LEVEL.items()}
RE_LEAD = {
    1: re.compile(r"^[一二三四五六七八九十百]+、[^。]{1,30}。"),
    2: re.compile(r"^[（(][一二三四五六七八九十百]+[）)][^。]{1,30}。"),
    3: re.compile(r"^\d+[\.．][^。]{1,30}。"),
    4: re.compile(r"^[（(]\d+[）)][^。]{1,30}。"),
}


def body_blocks(blocks) -> list:
    out = []
    for block in blocks or []:
        kind = block.get("kind")
        if kind == "table":
            out.append(Table([[str(c) for c in row] for row in block.get("rows") or []]))
        elif kind in KIND_LEVEL:
            out.append(Heading(KIND_LEVEL[kind], str(block.get("text", ""))))
        else:
            text = str(block.get("text", ""))
            for level, rx in RE_LEAD.items():
                m = rx.match(text)
                if m and len(text) > m.end():  # a run-in heading followed by ordinary text
                    out.append(Paragraph(text[m.end():], lead=m.group(0), lead_level=level))
                    break
            else:
                out.append(Paragraph(text))
    return out


def to_render_doc(document, *, seal_pictures: bool = False) -> RenderDoc:
    """The RenderDoc of a stored 公文. seal_pictures=True draws the seals as pictures
    (a preview); the issued file carries them as signature stamps instead."""
    unit = document.unit
    co = list(document.co_issuers.all().order_by("id")) if document.pk else []
    organs = [unit.name] + [u.name for u in co]
    main = document.main_recipients_label.strip() if document.main_recipients_label else ""
    recipients = [main] if main else [u.name for u in document.main_recipients.all().order_by("id")]
    cc = [u.name for u in document.cc_recipients.all().order_by("id")]
    seals = []
    for u in [unit] + co:
        picture = None
        if seal_pictures:
            from documents.signing import ca

            if ca.has_seal(u.id):
                try:
                    picture = ca.load_seal(u.id).picture
                except ca.SealError:
                    picture = None
        seals.append(Seal(u.name, picture=picture, unit_id=u.id))
    variant = VARIANT_OF.get(document.doc_type, "standard")
    doc = RenderDoc(
        doc_type=document.doc_type,
        organs=organs,
        doc_number=document.number or "",
        signers=list(document.signer_names or []) if document.is_upward else [],
        urgency=document.urgency or "",
        title=document.title if variant != "order" else "",
        recipients=recipients,
        body=body_blocks(document.body),
        attachments=list(document.attachment_notes or []),
        signatures=seals if variant != "minutes" else [],
        date=document.signed_at,
        note=document.remark or "",
        cc=cc,
        printer=document.issued_by.name if document.issued_by_id else "",
        print_date=document.issued_on,
        variant=variant,
    )
    if variant == "order":
        doc.order_no = document.number or ""
        doc.signed_by_title, doc.signed_by_name = order_signature(document)
    return doc


def order_signature(document) -> tuple[str, str]:
    """A 命令 is signed with the signer's 职务 and name (GB/T 9704 §10.3): the post and name of
    the last 签发 (for a 代签, the post signed for)."""
    names = "、".join(document.signer_names or [])
    if not document.pk:
        return "", names
    step = (document.steps.filter(round=document.round, kind="signoff", state="done")
            .select_related("acted_post", "acted_for_post", "acted_by").order_by("acted_at", "id").last())
    if step is None:
        return "", names
    post = step.acted_for_post or step.acted_post
    title = (post.title if post else "") or (getattr(step.acted_by, "title", "") if not step.acted_for_post else "")
    name = step.acted_for_name or step.acted_name or names
    return title, name


def to_flow_fields(rdoc: RenderDoc) -> dict:
    """An imported RenderDoc as the editable fields of the 公文 flow (documents.actions)."""
    body = []
    for block in rdoc.body:
        if isinstance(block, Heading):
            body.append({"kind": LEVEL_KIND.get(block.level, "p"), "text": block.text})
        elif isinstance(block, Paragraph):
            body.append({"kind": "p", "text": (block.lead or "") + block.text})
        elif isinstance(block, Table):
            body.append({"kind": "table", "rows": block.rows})
        elif isinstance(block, Image):
            continue  # the flow's body has no pictures: returned separately
    for n, note in enumerate(rdoc.footnotes, 1):
        body.append({"kind": "p", "text": f"注{n}：{note}"})
    return {
        "title": rdoc.title,
        "doc_type": rdoc.doc_type,
        "urgency": rdoc.urgency,
        "body": body,
        "attachment_notes": rdoc.attachments,
        "remark": rdoc.note,
        "main_recipients_label": "、".join(rdoc.recipients),
        "cc_names": rdoc.cc,
        "number": rdoc.doc_number,
        "organs": rdoc.organs,
        "signed_at": rdoc.date.isoformat() if rdoc.date else None,
    }
