"""Sample documents for tests, benchmarks and the demo (plain data, no DB)."""
from __future__ import annotations

import datetime as dt

from .model import Heading, Paragraph, RenderDoc, Seal, Table

SENTENCES = [
    "为深入贯彻落实党中央、国务院关于数字政府建设的决策部署，进一步提高机关运行效率，",
    "推动政务服务“一网通办”、机关办公“一网协同”，经市政府研究同意，现就有关事项通知如下。",
    "各县区人民政府要切实加强组织领导，明确责任分工，细化工作措施，确保各项任务按期完成；",
    "市直各部门要结合职能职责，主动做好业务指导和技术支持（具体办法另行通知），形成工作合力。",
    "请于2026年3月31日前将工作进展情况报送市政府办公室，联系电话：0829-3212345。",
]


def paragraph(n: int = 0, length: int = 3) -> Paragraph:
    return Paragraph("".join(SENTENCES[(n + k) % len(SENTENCES)] for k in range(length)))


def sample_doc(pages: int = 3, *, seals: list[Seal] | None = None, joint: bool = False,
               upward: bool = False, variant: str = "standard") -> RenderDoc:
    """A 通知 of roughly `pages` pages."""
    body = []
    n = 0
    # ≈ 2.3 blocks per page after the first
    cn_num = "一二三四五六七八九十"
    for s in range(pages * 4):
        body.append(Heading(1, f"{cn_num[s % 10]}、{'总体要求' if s == 0 else '重点任务'}"))
        body.append(Heading(2, "（一）明确目标。"))
        body.append(paragraph(n, 3))
        body.append(Paragraph("加强统筹协调，建立健全工作机制。", lead="（二）强化保障。", lead_level=2))
        body.append(Heading(3, "1.完善制度规范。"))
        body.append(paragraph(n + 1, 2))
        n += 2
        if len(body) >= pages * 10.4 - 17:
            break
    organs = ["咸阳市人民政府"]
    if joint:
        organs = ["咸阳市人民政府", "咸阳市教育局", "咸阳市财政局"]
    doc = RenderDoc(
        doc_type="请示" if upward else "通知",
        organs=organs,
        doc_number="咸政发〔2026〕12号" if not upward else "咸政〔2026〕3号",
        signers=["王建国"] if upward else [],
        urgency="特急",
        title=("咸阳市人民政府关于加快推进全市机关无纸化办公和一网协同平台建设的通知" if not upward
               else "咸阳市人民政府关于申请一网协同平台建设专项资金的请示"),
        recipients=["各县（市、区）人民政府", "市政府各工作部门", "各直属机构"] if not upward else ["陕西省人民政府"],
        body=body,
        attachments=["一网协同平台建设任务分工表", "各县区联系人名单"],
        signatures=seals if seals is not None else [Seal(o) for o in organs],
        date=dt.date(2026, 3, 1),
        note="此件公开发布",
        cc=["市委各部门", "市人大常委会办公室", "市政协办公室", "市中级人民法院", "市人民检察院"],
        printer="咸阳市人民政府办公室",
        print_date=dt.date(2026, 3, 2),
        variant=variant,
    )
    if pages >= 3:
        doc.body.insert(4, Table([["序号", "任务", "牵头单位", "完成时限"],
                                  ["1", "建设统一身份认证", "市大数据局", "2026年6月"],
                                  ["2", "公文全流程电子化", "市政府办公室", "2026年9月"]],
                                 col_widths=[1, 4, 3, 2]))
    return doc
