"""四性 checks (GB/T 18894-2016, DA/T 70-2018): 真实性, 完整性, 可用性, 安全性.

Each check gives a result {property, check, ok, reason, component}; a 件 passes when every result
does. The same blob checks serve filing (parts in memory), the holdings (stored components) and a
received bag (files on disk).
"""
from __future__ import annotations

import io
import os
import re
import subprocess
import tempfile
from collections import defaultdict

import pikepdf
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from documents.archive import store
from documents.archive.models import (
    CheckRun,
    Component,
    ComponentRole,
    Direction,
    Item,
    ItemCheck,
    ItemState,
)

PROPERTIES = {"authentic": gettext_noop("真实性"), "complete": gettext_noop("完整性"),
              "usable": gettext_noop("可用性"), "safe": gettext_noop("安全性")}
CHECKS = {
    "fixity": gettext_noop("固化信息（SHA-256、SM3）"),
    "signature": gettext_noop("电子签章有效"),
    "content": gettext_noop("题名、文号与内容一致"),
    "dates": gettext_noop("日期与流转记录一致"),
    "components": gettext_noop("组件齐全"),
    "metadata": gettext_noop("必备元数据"),
    "sequence": gettext_noop("件号连续"),
    "catalogue": gettext_noop("目录与馆藏数量一致"),
    "format": gettext_noop("格式可长期保存"),
    "pdfa": gettext_noop("PDF/A 结构"),
    "qpdf": gettext_noop("qpdf --check"),
    "fonts": gettext_noop("字体已嵌入"),
    "render": gettext_noop("每页可渲染"),
    "encryption": gettext_noop("未加密"),
    "active": gettext_noop("无脚本、启动动作和可执行内容"),
    "audit": gettext_noop("归档操作已记入审计"),
    "ofd": gettext_noop("OFD 结构完整（本系统读取器）"),
    "bagit": gettext_noop("BagIt 包结构"),
    "manifest": gettext_noop("清单文件齐全"),
    "manifest-sha256": gettext_noop("SHA-256 清单"),
    "manifest-sm3": gettext_noop("SM3 清单"),
    "tagmanifest-sm3": gettext_noop("SM3 标签清单"),
    "archival-code": gettext_noop("文件夹名为档号"),
}
REQUIRED = {Direction.SENT: (ComponentRole.ORIGINAL, ComponentRole.FINAL),
            Direction.RECEIVED: (ComponentRole.FORM, ComponentRole.DOCUMENT)}
GENERATED_PDFA = (ComponentRole.FORM, ComponentRole.FINAL, ComponentRole.RENDITION)
LONG_TERM_FORMATS = ("application/pdf", "application/ofd", "image/jpeg", "image/png", "image/tiff", "text/plain",
                     "application/xml", "text/xml",
                     "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
EXECUTABLE_MAGIC = (b"MZ", b"\x7fELF", b"#!", b"\xca\xfe\xba\xbe", b"PK\x03\x04")
EXECUTABLE_EXT = re.compile(r"\.(exe|dll|bat|cmd|com|scr|js|vbs|ps1|sh|jar|msi|apk|elf)$", re.I)


def result(prop, check, ok, reason="", component=""):
    return {"property": prop, "check": check, "ok": bool(ok), "reason": reason, "component": component}


def labelled(results):
    """Results with their labels in the active language (for pages and reports)."""
    return [{**r, "property_label": _(PROPERTIES[r["property"]]), "check_label": _(CHECKS[r["check"]])}
            for r in results]


# --------------------------------------------------------------------- one PDF

def _active_content(pdf) -> list[str]:
    found = []
    root = pdf.Root
    names = root.get("/Names")
    if names is not None and "/JavaScript" in names:
        found.append(_("文档级 JavaScript"))
    if names is not None and "/EmbeddedFiles" in names:
        for label in _embedded_names(names.EmbeddedFiles):
            if EXECUTABLE_EXT.search(label):
                found.append(_("嵌入了可执行文件 %(n)s") % {"n": label})
    for obj in _dictionaries(pdf):
        s = obj.get("/S")
        if s == "/JavaScript" or "/JS" in obj:
            found.append(_("JavaScript 动作"))
        elif s == "/Launch":
            found.append(_("启动外部程序的动作"))
        if obj.get("/Type") == "/EmbeddedFile" or (obj.get("/Type") == "/Filespec" and "/EF" in obj):
            try:
                stream = obj if obj.get("/Type") == "/EmbeddedFile" else obj.EF.get("/F")
                head = stream.read_bytes()[:4] if stream is not None else b""
            except Exception:
                head = b""
            if any(head.startswith(m) for m in EXECUTABLE_MAGIC[:4]):
                found.append(_("嵌入了可执行内容"))
    return sorted(set(found))


def _dictionaries(pdf, limit=200000):
    """Every dictionary reachable from the trailer (direct ones too, e.g. an /OpenAction)."""
    seen = set()
    stack = [pdf.trailer]
    while stack and len(seen) < limit:
        obj = stack.pop()
        if isinstance(obj, (pikepdf.Dictionary, pikepdf.Stream)):
            if obj.is_indirect:
                key = obj.objgen
                if key in seen:
                    continue
                seen.add(key)
            d = obj.stream_dict if isinstance(obj, pikepdf.Stream) else obj
            if isinstance(obj, pikepdf.Dictionary):
                yield obj
            for k in list(d.keys()):
                if k in ("/Parent", "/P"):
                    continue
                stack.append(d[k])
        elif isinstance(obj, pikepdf.Array):
            stack.extend(list(obj))


def _embedded_names(tree) -> list[str]:
    out = []
    arr = tree.get("/Names")
    if arr is not None:
        out += [str(arr[i]) for i in range(0, len(arr), 2)]
    for kid in tree.get("/Kids", []):
        out += _embedded_names(kid)
    return out


def _qpdf_check(path) -> str:
    try:
        proc = subprocess.run(["qpdf", "--check", path], capture_output=True, timeout=120)
    except FileNotFoundError:
        return _("未安装 qpdf")
    except subprocess.TimeoutExpired:
        return _("qpdf 检查超时")
    if proc.returncode not in (0, 3):  # 3: warnings only
        return (proc.stdout + proc.stderr).decode("utf-8", "replace").strip().splitlines()[-1][:200]
    return ""


def _renders(path, pages) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        try:
            proc = subprocess.run(["pdftoppm", "-r", "8", "-gray", path, os.path.join(tmp, "p")],
                                  capture_output=True, timeout=300)
        except FileNotFoundError:
            return _("未安装 pdftoppm")
        except subprocess.TimeoutExpired:
            return _("渲染超时")
        made = len(os.listdir(tmp))
    if proc.returncode != 0:
        return proc.stderr.decode("utf-8", "replace").strip()[:200] or _("渲染失败")
    if made != pages:
        return _("只渲染出 %(a)d/%(b)d 页") % {"a": made, "b": pages}
    return ""


def text_of(data: bytes) -> str:
    try:
        proc = subprocess.run(["pdftotext", "-q", "-", "-"], input=data, capture_output=True, timeout=120)
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return ""
    return proc.stdout.decode("utf-8", "replace")


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text or "")


def check_ofd(name, data, *, signed=False) -> list[dict]:
    """可用性 (our reader: the package, its pages, fonts and pictures), 安全性 (no executables or
    scripts) and the SM2 seals (真实性) of one OFD."""
    from documents.archive import ofd

    info = ofd.read(data)
    out = [result("usable", "format", True, "", name),
           result("usable", "ofd", not info.problems, "；".join(info.problems[:5])[:300], name),
           result("usable", "encryption", not info.encrypted, _("文件已加密") if info.encrypted else "", name),
           result("usable", "fonts", not info.font_problems, "；".join(info.font_problems[:5])[:300], name),
           result("safe", "active", not info.active, "；".join(info.active[:5])[:300], name)]
    if signed:
        from documents.signing.ofd_sign import verify_ofd

        report = verify_ofd(data)
        out.append(result("authentic", "signature", report.valid, "" if report.valid else report.message, name))
    return out


def check_blob(name, data, *, mime="application/pdf", signed=False, expect_pdfa=False, deep=True) -> list[dict]:
    """可用性 and 安全性 of one file, and its signatures (真实性)."""
    from documents.archive import ofd

    if ofd.is_ofd(name, mime):
        return check_ofd(name, data, signed=signed)
    out = []
    is_pdf = mime == "application/pdf" or data[:5] == b"%PDF-"
    if not is_pdf:
        out.append(result("usable", "format", mime in LONG_TERM_FORMATS,
                          "" if mime in LONG_TERM_FORMATS else _("格式 %(m)s 不适合长期保存") % {"m": mime}, name))
        bad = EXECUTABLE_EXT.search(name) or any(data.startswith(m) for m in EXECUTABLE_MAGIC[:4])
        out.append(result("safe", "active", not bad, _("可执行文件") if bad else "", name))
        return out
    try:
        pdf = pikepdf.open(io.BytesIO(data))
    except Exception as exc:
        out.append(result("usable", "qpdf", False, _("无法打开：%(e)s") % {"e": str(exc)[:150]}, name))
        return out
    with pdf:
        encrypted = pdf.is_encrypted
        out.append(result("usable", "encryption", not encrypted, _("文件已加密") if encrypted else "", name))
        from documents.render.pdfa import _fonts_of

        problems: list[str] = []
        seen: set = set()
        for n, page in enumerate(pdf.pages, 1):
            _fonts_of(page.obj.get("/Resources"), seen, problems, f"page {n}")
        fonts = [p for p in problems if "font" in p]
        out.append(result("usable", "fonts", not fonts, "; ".join(fonts)[:300], name))
        active = _active_content(pdf)
        out.append(result("safe", "active", not active, "；".join(active), name))
        pages = len(pdf.pages)
        claims_pdfa = False
        try:
            claims_pdfa = pdf.open_metadata().get("pdfaid:part") is not None
        except Exception:
            pass
    if expect_pdfa or claims_pdfa:
        from documents.render.pdfa import check_pdfa

        issues = [p for p in check_pdfa(data) if not p.startswith("qpdf:")]
        out.append(result("usable", "pdfa", not issues, "; ".join(issues)[:300], name))
    if deep:
        with tempfile.NamedTemporaryFile(suffix=".pdf") as tmp:
            tmp.write(data)
            tmp.flush()
            q = _qpdf_check(tmp.name)
            out.append(result("usable", "qpdf", not q, q, name))
            r = _renders(tmp.name, pages)
            out.append(result("usable", "render", not r, r, name))
    if signed:
        from documents.signing.pades import verify_pdf

        report = verify_pdf(data)
        out.append(result("authentic", "signature", report.valid, "" if report.valid else report.message, name))
    return out


# --------------------------------------------------------------------- one 件

def check_content(title, number, main_data, *, text=None, component="") -> dict:
    text = squeeze(text_of(main_data) if text is None else text)
    missing = [x for x in (title, number) if x and squeeze(x) not in text]
    return result("authentic", "content", not missing,
                  _("正文中找不到：%(x)s") % {"x": "、".join(missing)} if missing else "", component)


def check_ofd_content(title, number, name, data) -> dict:
    """The OFD says what the metadata says: its text holds the 题名 and the 文号."""
    from documents.archive import ofd

    return check_content(title, number, b"", text=ofd.read(data).text, component=name)


def check_dates(item) -> dict:
    filed = timezone.localdate(item.filed_at)
    ok = item.doc_date <= filed and item.year == item.doc_date.year
    business = (item.metadata or {}).get("business") or []
    times = [b["at"] for b in business]
    ok = ok and times == sorted(times)
    return result("authentic", "dates", ok, "" if ok else _("文件日期、年度与流转记录不一致"))


def _main_component(item, components):
    role = ComponentRole.ORIGINAL if item.direction == Direction.SENT else ComponentRole.DOCUMENT
    return next((c for c in components if c.role == role), None)


def check_item(item, *, deep=True, gaps=None) -> tuple[bool, list[dict]]:
    """Every 四性 check of a stored 件 (components read back from storage)."""
    out = []
    comps = [c for c in Component.objects.filter(item=item).order_by("order")]
    destroyed = item.state == ItemState.DESTROYED
    roles = {c.role for c in comps}
    missing = [str(ComponentRole(r).label) for r in REQUIRED[item.direction] if r not in roles]
    # every component recorded at filing is still a row of the 件
    names = {c.name for c in comps}
    missing += [m["name"] for m in (item.metadata or {}).get("components", []) if m.get("name") not in names]
    present = {}
    for c in comps:
        if destroyed:
            continue
        if not store.exists(c.storage_name):
            out.append(result("complete", "components", False, _("组件文件缺失"), c.name))
            continue
        data = store.read(c.storage_name)
        present[c.id] = data
        sha, sm, _n = store.digests(data) + (len(data),)
        ok = sha == c.sha256 and sm == c.sm3
        out.append(result("authentic", "fixity", ok, "" if ok else _("内容与归档时的摘要不符（已被改动）"), c.name))
        out += check_blob(c.name, data, mime=c.mime, signed=c.signed,
                          expect_pdfa=c.role in GENERATED_PDFA, deep=deep)
        if c.role == ComponentRole.OFD and c.source == f"document:{item.document_id}:ofd":
            out.append(check_ofd_content(item.title, item.doc_number, c.name, data))
    out.append(result("complete", "components", not missing,
                      _("缺少组件：%(x)s") % {"x": "、".join(missing)} if missing else ""))
    need = {"title": item.title, "responsible": item.responsible, "doc_date": item.doc_date, "year": item.year,
            "retention": item.retention, "org_code": item.org_code}
    if item.state in (ItemState.ACCEPTED, ItemState.DESTROYED):
        need.update(archival_code=item.archival_code, seq=item.seq)
    empty = [k for k, v in need.items() if not v]
    out.append(result("complete", "metadata", not empty, _("缺少元数据：%(x)s") % {"x": "、".join(empty)} if empty else ""))
    if item.seq:
        gap = (gaps if gaps is not None else class_gaps([item])).get(class_key(item), [])
        out.append(result("complete", "sequence", not gap,
                          _("本类件号不连续，缺：%(x)s") % {"x": "、".join(f"{n:04d}" for n in gap[:20])} if gap else ""))
    main = _main_component(item, comps)
    if main is not None and main.id in present:
        out.append(check_content(item.title, item.doc_number, present[main.id]))
    out.append(check_dates(item))
    if item.state in (ItemState.ACCEPTED, ItemState.DESTROYED):
        from office.models import AuditEntry

        logged = AuditEntry.objects.filter(action="archive.accept", object_type="archive.item",
                                           object_id=str(item.id)).exists()
        out.append(result("safe", "audit", logged, "" if logged else _("找不到接收归档的审计记录")))
    return all(r["ok"] for r in out), out


def class_key(item):
    return (item.fonds_id, item.year, item.retention, item.org_code)


def class_gaps(items=None) -> dict:
    """{class: [missing 件号]} over the accepted holdings of the classes of `items` (all if None)."""
    qs = Item.objects.filter(seq__isnull=False)
    if items is not None:
        keys = {class_key(i) for i in items}
        q = None
        from django.db.models import Q

        for f, y, r, o in keys:
            part = Q(fonds_id=f, year=y, retention=r, org_code=o)
            q = part if q is None else q | part
        if q is None:
            return {}
        qs = qs.filter(q)
    seqs = defaultdict(list)
    for f, y, r, o, s in qs.values_list("fonds_id", "year", "retention", "org_code", "seq").iterator():
        seqs[(f, y, r, o)].append(s)
    gaps = {}
    for key, have in seqs.items():
        have_set = set(have)
        gaps[key] = [n for n in range(1, max(have) + 1) if n not in have_set]
    return gaps


def run_checks(items, stage, *, fonds=None, scope="", person=None, deep=True, progress=None) -> CheckRun:
    """One batch report: each 件 with its results. `items` may be a queryset (read in chunks)."""
    run = CheckRun.objects.create(stage=stage, fonds=fonds, scope=scope,
                                  started_name=(person.display_name if person else ""))
    gaps = class_gaps(None)
    entries, failed, total = [], 0, 0
    count = items.count() if hasattr(items, "count") and not isinstance(items, list) else len(items)
    it = items.iterator(chunk_size=200) if hasattr(items, "iterator") else items
    for item in it:
        ok, results = check_item(item, deep=deep, gaps=gaps)
        total += 1
        failed += 0 if ok else 1
        ItemCheck.objects.create(item=item, run=run, stage=stage, ok=ok, results=results)
        entries.append({"item": item.id, "code": item.archival_code or "", "title": item.title, "ok": ok,
                        "results": results if not ok else [r for r in results if not r["ok"]]})
        if progress:
            progress(total, count)
    if fonds is not None:
        entries_ok = _catalogue_counts(fonds)
        if entries_ok is not None:
            entries.append(entries_ok)
            failed += 0 if entries_ok["ok"] else 1
    run.total, run.failed, run.ok = total, failed, failed == 0
    run.finished_at = timezone.now()
    run.report = {"items": entries}
    run.save()
    return run


def _catalogue_counts(fonds):
    """完整性: the catalogue (accepted items) matches the components held."""
    accepted = Item.objects.filter(fonds=fonds, state=ItemState.ACCEPTED)
    without = accepted.exclude(id__in=Component.objects.filter(role=ComponentRole.RENDITION).values("item_id"))
    n = without.count()
    return {"item": None, "code": fonds.code, "title": _("目录与馆藏"), "ok": n == 0,
            "results": [result("complete", "catalogue", n == 0,
                               _("%(n)d件在目录中但缺少归档版本") % {"n": n} if n else "")]}


def check_parts(assembly, *, title, number) -> list[dict]:
    """The 四性 check at filing, over the assembled parts before anything is stored."""
    out = []
    roles = {p.role for p in assembly.parts}
    missing = [str(ComponentRole(r).label) for r in REQUIRED[assembly.direction] if r not in roles]
    out.append(result("complete", "components", not missing,
                      _("缺少组件：%(x)s") % {"x": "、".join(missing)} if missing else ""))
    main_role = ComponentRole.ORIGINAL if assembly.direction == Direction.SENT else ComponentRole.DOCUMENT
    for p in assembly.parts:
        out += check_blob(p.name, p.data, mime=p.mime, signed=p.signed, expect_pdfa=p.role in GENERATED_PDFA)
        if p.role == main_role:
            out.append(check_content(title, number, p.data))
        elif p.role == ComponentRole.OFD and p.source == f"document:{assembly.document.id}:ofd":
            out.append(check_ofd_content(title, number, p.name, p.data))
    return out


def save_item_check(item, stage, ok, results, run=None):
    with transaction.atomic():
        return ItemCheck.objects.create(item=item, run=run, stage=stage, ok=ok, results=results)
