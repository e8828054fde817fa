"""What leaves the archive: the 归档文件目录 (PDF, XLSX), statistics, the DA/T 46 metadata XML and
the transfer package (one BagIt bag per 全宗, RFC 8493), and the check of a received bag.

The bag is written as a stream: one 件 at a time, its files copied from storage in chunks while
SHA-256 and SM3 are computed, manifest lines appended as each file is done, so memory does not
grow with the number of 件. bagit (the library) validates the SHA-256 side; SM3 lives in
manifest-sm3.txt and tagmanifest-sm3.txt, which bagit does not know, and is checked here.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import mimetypes
import os
import re
import shutil
from collections import Counter, defaultdict
from pathlib import Path
from xml.etree import ElementTree as ET

from django.utils import timezone
from django.utils.translation import gettext as _

from documents.archive import checks, pdfs, store
from documents.archive.actions import effective
from documents.archive.models import Component, Fonds, Item, ItemState, Retention

NS = "http://www.saac.gov.cn/standard/DA/T46-2009"
CODE_RE = re.compile(r"^(?P<fonds>[A-Za-z0-9]+)-WS\u00b7(?P<year>\d{4})-(?P<ret>Y|D30|D10)-(?P<org>[A-Za-z0-9]+)-(?P<seq>\d{4})$")


# --------------------------------------------------------------------- catalogue

def holdings(fonds, year=None, retention=None, org_code=None, states=(ItemState.ACCEPTED, ItemState.DESTROYED)):
    qs = Item.objects.filter(fonds=fonds, state__in=states, seq__isnull=False)
    if year:
        qs = qs.filter(year=year)
    if retention:
        qs = qs.filter(retention=retention)
    if org_code:
        qs = qs.filter(org_code=org_code)
    return qs.order_by("year", "retention", "org_code", "seq")


def catalogue_rows(items):
    """DA/T 22-2015 8.1 columns: 序号, 档号, 文号, 责任者, 题名, 日期 (8 digits), 密级, 页数, 备注."""
    versions = defaultdict(list)
    ids = []
    for n, item in enumerate(items.prefetch_related("versions").iterator(chunk_size=500)
                             if hasattr(items, "iterator") else items, 1):
        eff = effective(item)
        remark = eff.get("remark", "")
        if item.state == ItemState.DESTROYED:
            remark = (remark + " " + _("已销毁")).strip()
        yield [str(n), item.archival_code, eff["doc_number"], eff["responsible"], eff["title"],
               eff["doc_date"].replace("-", ""), _("非涉密"), str(item.pages), remark]
    del versions, ids


def _heading(fonds, year, retention=None):
    parts = [fonds.code, fonds.name, _("%(y)s年度") % {"y": year} if year else ""]
    if retention:
        parts.append(str(Retention(retention).label))
    return _("归档文件目录") + "（" + " ".join(p for p in parts if p) + "）"


def _today():
    """The start of today (Asia/Shanghai): the time an export's files say they were made, so that
    an export made twice in a day is the same bytes (a resumed download can join its parts)."""
    return timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)


def catalogue_pdf(fonds, year=None, retention=None, org_code=None, by="") -> bytes:
    items = holdings(fonds, year, retention, org_code)
    pages = sum(items.values_list("pages", flat=True))
    day = _today()
    note = {"items": items.count(), "pages": pages, "by": by, "date": day.date().isoformat(),
            "remark": _("本目录由一网通电子档案系统生成；已销毁的件保留目录并在备注中注明。")}
    return pdfs.catalogue_pdf(_heading(fonds, year, retention), catalogue_rows(items), note=note, author=fonds.name,
                              created=day)


def catalogue_xlsx(fonds, year=None, retention=None, org_code=None) -> bytes:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(_("归档文件目录"))
    ws.append([_heading(fonds, year, retention)])
    ws.append([_(c) for c in pdfs.CATALOGUE_COLS])
    for row in catalogue_rows(holdings(fonds, year, retention, org_code)):
        ws.append([int(row[0])] + row[1:7] + [int(row[7])] + row[8:])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def catalogue_xlsx_to(path, fonds, year):
    """The 归档文件目录 spreadsheet written to `path`, dated the start of today throughout (its
    properties and its zip entries), so that the same holdings give the same bytes all day."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(_("归档文件目录"))
    ws.append([_heading(fonds, year)])
    ws.append([_(c) for c in pdfs.CATALOGUE_COLS])
    for row in catalogue_rows(holdings(fonds, year)):
        ws.append([int(row[0])] + row[1:7] + [int(row[7])] + row[8:])
    raw = Path(str(path) + ".raw")
    wb.save(raw)
    _steady_zip(raw, path, _today(), stamp_core=True)
    raw.unlink()


def _steady_zip(src, dst, when, *, stamp_core=False):
    """Copy a zip with every entry dated `when` (and, for an Office file, the created/modified
    times of docProps/core.xml set to it): the bytes then depend on the content only."""
    import zipfile

    utc = when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if stamp_core and info.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)",
                              lambda m: m.group(1) + utc.encode() + m.group(2), data)
            zout.writestr(_zip_entry(info.filename, when), data)


def _zip_entry(name, when):
    """A deflated zip entry dated `when`, mode 0644: nothing in it but the name tells of the machine."""
    import zipfile

    info = zipfile.ZipInfo(name, date_time=_zip_time(when))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def _zip_time(when):
    local = timezone.localtime(when)
    return (max(local.year, 1980), local.month, local.day, local.hour, local.minute, local.second)


def statistics(fonds, year) -> dict:
    items = Item.objects.filter(fonds=fonds, year=year, state=ItemState.ACCEPTED)
    by_ret = Counter(items.values_list("retention", flat=True))
    by_org = Counter(items.values_list("org_name", flat=True))
    by_month = Counter(d.month for d in items.values_list("doc_date", flat=True))
    return {
        "total": items.count(), "pages": sum(items.values_list("pages", flat=True)),
        "by_retention": [(str(Retention(r).label), by_ret.get(r, 0)) for r in Retention.values],
        "by_org": sorted(by_org.items(), key=lambda kv: -kv[1]),
        "by_month": [(_("%(m)d月") % {"m": m}, by_month.get(m, 0)) for m in range(1, 13)],
    }


def statistics_pdf(fonds, year) -> bytes:
    return pdfs.statistics_pdf(_("%(f)s %(y)s年度档案统计") % {"f": fonds.name, "y": year}, statistics(fonds, year),
                               author=fonds.name)


# --------------------------------------------------------------------- DA/T 46 XML

def metadata_xml(item) -> bytes:
    """The four DA/T 46-2009 entities of a 件 as XML (element names follow the standard's terms)."""
    ET.register_namespace("", NS)
    eff = effective(item)
    meta = item.metadata or {}
    f = meta.get("file", {})
    root = ET.Element(f"{{{NS}}}电子文件", {"版本": "DA/T 46-2009"})

    def sub(parent, tag, text=None, **attrs):
        el = ET.SubElement(parent, f"{{{NS}}}{tag}", {k: str(v) for k, v in attrs.items()})
        if text is not None:
            el.text = str(text)
        return el

    doc = sub(root, "文件实体")
    sub(doc, "聚合层次", _("件"))
    src = sub(doc, "来源")
    sub(src, "全宗名称", item.fonds.name)
    sub(src, "立档单位名称", item.fonds.unit.name)
    code = sub(doc, "档号", item.archival_code or "")
    sub(code, "全宗号", item.fonds.code)
    sub(code, "门类代码", "WS")
    sub(code, "年度", item.year)
    sub(code, "保管期限", item.retention)
    sub(code, "机构或问题", item.org_code)
    sub(code, "件号", f"{item.seq:04d}" if item.seq else "")
    sub(doc, "题名", eff["title"])
    sub(doc, "文件编号", eff["doc_number"])
    sub(doc, "责任者", eff["responsible"])
    sub(doc, "日期", eff["doc_date"].replace("-", ""))
    sub(doc, "文种", item.doc_type)
    sub(doc, "紧急程度", item.urgency)
    sub(doc, "密级", _("非涉密"))
    sub(doc, "保管期限", str(Retention(eff["retention"]).label))
    sub(doc, "机构名称", item.org_name)
    sub(doc, "页数", item.pages)
    sub(doc, "格式信息", f.get("format", "PDF/A-2b"))
    sub(doc, "收文号", f.get("registered_no", ""))
    comps = sub(doc, "计算机文件")
    for c in item.components.all().order_by("order"):
        el = sub(comps, "组件", 顺序=c.order, 类型=c.get_role_display())
        sub(el, "计算机文件名", c.name)
        sub(el, "计算机文件大小", c.size)
        sub(el, "格式", c.mime)
        sub(el, "页数", c.pages)
        sub(el, "电子签名", _signature_label(c))
        sub(el, "固化信息", c.sha256, 算法="SHA-256")
        sub(el, "固化信息", c.sm3, 算法="SM3")
    agents = sub(root, "机构人员实体")
    for a in meta.get("agents", []):
        el = sub(agents, "机构人员", 类型=_("个人") if a["type"] == "person" else _("机构"))
        sub(el, "名称", a["name"])
        if a.get("unit"):
            sub(el, "所属机构", a["unit"])
    biz = sub(root, "业务实体")
    for b in meta.get("business", []):
        el = sub(biz, "业务行为", 行为=b["action"])
        sub(el, "行为时间", b["at"])
        sub(el, "机构人员", b.get("agent", ""))
        sub(el, "机构", b.get("unit", ""))
        sub(el, "行为描述", b.get("result", ""))
    for label, t in ((_("归档"), item.filed_at), (_("接收"), item.accepted_at)):
        if t:
            el = sub(biz, "业务行为", 行为=label)
            sub(el, "行为时间", timezone.localtime(t).isoformat())
            sub(el, "机构人员", item.filed_name if label == _("归档") else item.accepted_name)
    rel = sub(root, "实体关系")
    for r in meta.get("relations", []):
        el = sub(rel, "关系", 类型=r["type"])
        sub(el, "关联实体", r["target"])
    for v in item.versions.all().order_by("no"):
        el = sub(rel, "关系", 类型=_("元数据更正"))
        sub(el, "版本", v.no)
        sub(el, "更正人", v.by_name)
        sub(el, "更正时间", timezone.localtime(v.at).isoformat())
        sub(el, "更正理由", v.reason)
        for k, (old, new) in v.changes.items():
            sub(el, "更正项", f"{old} → {new}", 项=k)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _signature_label(c) -> str:
    if not c.signed:
        return _("无")
    if c.mime == "application/ofd":
        return _("有（OFD国密签章 SM2/SM3，已验证）")
    return _("有（PAdES，已验证）")


def parse_metadata_xml(data: bytes) -> dict:
    root = ET.fromstring(data)
    q = lambda tag: f"{{{NS}}}{tag}"  # noqa: E731
    doc = root.find(q("文件实体"))
    comps = []
    for el in doc.find(q("计算机文件")).findall(q("组件")):
        fix = {x.get("算法"): x.text for x in el.findall(q("固化信息"))}
        comps.append({"name": el.findtext(q("计算机文件名")), "size": int(el.findtext(q("计算机文件大小")) or 0),
                      "sha256": fix.get("SHA-256"), "sm3": fix.get("SM3"), "signed": el.findtext(q("电子签名")) != _("无"),
                      "type": el.get("类型"), "mime": el.findtext(q("格式")) or ""})
    return {"code": doc.findtext(q("档号")), "title": doc.findtext(q("题名")), "number": doc.findtext(q("文件编号")),
            "components": comps}


# --------------------------------------------------------------------- BagIt export

class _Manifests:
    def __init__(self, root: Path):
        self.root = root
        self.sha = open(root / "manifest-sha256.txt", "w", encoding="utf-8")
        self.sm3 = open(root / "manifest-sm3.txt", "w", encoding="utf-8")
        self.bytes = 0
        self.files = 0

    def add_stream(self, rel: str, blocks) -> None:
        a, b = hashlib.sha256(), store.sm3()
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as out:
            for block in blocks:
                out.write(block)
                a.update(block)
                b.update(block)
                self.bytes += len(block)
        self.files += 1
        self.sha.write(f"{a.hexdigest()}  {_encode(rel)}\n")
        self.sm3.write(f"{b.hexdigest()}  {_encode(rel)}\n")

    def close(self):
        self.sha.close()
        self.sm3.close()


def _encode(path: str) -> str:
    return path.replace("%", "%25").replace("\n", "%0A").replace("\r", "%0D")


def _safe(name: str) -> str:
    return "".join(ch for ch in name if ch not in '\\/:*?"<>|\r\n\t') or "file"


def export_bag(fonds, year, out_dir, *, progress=None) -> Path:
    """One bag for one 全宗 and 年度 under out_dir; returns its path."""
    root = Path(out_dir) / f"{fonds.code}-{year}"
    if root.exists():
        shutil.rmtree(root)
    (root / "data").mkdir(parents=True)
    m = _Manifests(root)
    items = holdings(fonds, year, states=(ItemState.ACCEPTED,))
    total = items.count()
    try:
        for n, item in enumerate(items.select_related("fonds__unit").iterator(chunk_size=200), 1):
            folder = f"data/{item.archival_code}"
            for c in Component.objects.filter(item=item).order_by("order"):
                m.add_stream(f"{folder}/{c.order:02d}-{_safe(c.name)}", store.chunks(c.storage_name))
            m.add_stream(f"{folder}/metadata.xml", [metadata_xml(item)])
            if progress:
                progress(n, total)
        m.add_stream("data/catalogue/归档文件目录.pdf", [catalogue_pdf(fonds, year)])
        xlsx = root / "data" / "catalogue" / "tmp.xlsx"
        catalogue_xlsx_to(xlsx, fonds, year)
        m.add_stream("data/catalogue/归档文件目录.xlsx", _file_chunks(xlsx, remove=True))
    finally:
        m.close()
    (root / "bagit.txt").write_text("BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n", encoding="utf-8")
    info = {
        "Source-Organization": fonds.unit.name,
        "External-Identifier": f"{fonds.code}-{year}",
        "External-Description": _("全宗 %(c)s %(n)s %(y)s年度文书档案，%(k)d件") % {
            "c": fonds.code, "n": fonds.name, "y": year, "k": total},
        "Bagging-Date": _today().date().isoformat(),
        "Bag-Software-Agent": "yiwangtong archive (bagit-python compatible)",
        "Payload-Oxum": f"{m.bytes}.{m.files}",
        "Bag-Count": "1 of 1",
    }
    (root / "bag-info.txt").write_text("".join(f"{k}: {v}\n" for k, v in info.items()), encoding="utf-8")
    tags = ["bagit.txt", "bag-info.txt", "manifest-sha256.txt", "manifest-sm3.txt"]
    for alg, fname in (("sha256", "tagmanifest-sha256.txt"), ("sm3", "tagmanifest-sm3.txt")):
        with open(root / fname, "w", encoding="utf-8") as fh:
            for t in tags:
                h = hashlib.new(alg)
                for block in _file_chunks(root / t):
                    h.update(block)
                fh.write(f"{h.hexdigest()}  {t}\n")
    return root


def _file_chunks(path, remove=False):
    try:
        with open(path, "rb") as fh:
            while True:
                block = fh.read(store.CHUNK)
                if not block:
                    return
                yield block
    finally:
        if remove:
            os.unlink(path)


def export(out_dir, year, fonds_code=None, *, progress=None) -> list[Path]:
    qs = Fonds.objects.all().order_by("code")
    if fonds_code:
        qs = qs.filter(code=fonds_code)
    bags = []
    for fonds in qs:
        if holdings(fonds, year, states=(ItemState.ACCEPTED,)).exists() or fonds_code:
            bags.append(export_bag(fonds, year, out_dir, progress=progress))
    return bags


# --------------------------------------------------------------------- checking a received bag

def _read_manifest(path: Path) -> dict:
    out = {}
    if not path.exists():
        return out
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            digest, _sep, name = line.partition("  ")
            if not name:
                digest, _sep, name = line.partition(" ")
            out[name.replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%")] = digest.lower()
    return out


def _hash_file(path: Path, alg: str) -> str:
    h = hashlib.new(alg)
    for block in _file_chunks(path):
        h.update(block)
    return h.hexdigest()


def _mime_of(comp, path: Path) -> str:
    if comp.get("mime"):
        return comp["mime"]
    if path.suffix.lower() == ".ofd":
        return "application/ofd"
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


class _BagReport:
    """The check of one received bag as report entries: one for the bag itself (manifests, tag
    files, 件号 gaps) and one per 件 (its folder), each result with the file it is about."""

    def __init__(self, root: Path):
        self.root = root
        self.bag = {"item": None, "code": root.name, "title": _("移交包（清单与结构）"), "ok": True, "results": []}
        self.items: dict[str, dict] = {}

    def entry_for(self, rel: str) -> dict:
        parts = rel.split("/")
        if len(parts) > 2 and parts[0] == "data" and parts[1] in self.items:
            return self.items[parts[1]]
        return self.bag

    def add(self, prop, check, ok, reason, rel, entry=None):
        entry = entry or self.entry_for(rel)
        entry["results"].append(checks.result(prop, check, ok, reason, rel))
        entry["ok"] = entry["ok"] and bool(ok)

    def entries(self) -> list[dict]:
        return [self.bag] + [self.items[k] for k in sorted(self.items)]

    def failures(self) -> list[tuple[str, str, str]]:
        return [(r["component"], r["check"], r["reason"]) for e in self.entries() for r in e["results"] if not r["ok"]]


def check_bag(path, *, deep=True, progress=None) -> list[tuple[str, str, str]]:
    """Every failure as (file, check, reason); [] means the bag passes."""
    return check_bag_report(path, deep=deep, progress=progress).failures()


def check_bag_report(path, *, deep=True, progress=None) -> _BagReport:
    """The 四性 check of a received bag: both manifests and tag manifests, each 件's metadata
    against its content, every file's 可用性/安全性 and seals, 件号 without gaps."""
    import bagit

    root = Path(path)
    rep = _BagReport(root)
    if not (root / "bagit.txt").exists():
        rep.add("complete", "bagit", False, _("不是BagIt包（缺少bagit.txt）"), str(root))
        return rep
    folders = sorted(p for p in (root / "data").iterdir() if p.is_dir() and p.name != "catalogue") \
        if (root / "data").exists() else []
    for folder in folders:
        rep.items[folder.name] = {"item": None, "code": folder.name, "title": folder.name, "ok": True, "results": []}
    missing_tags = [n for n in ("manifest-sha256.txt", "manifest-sm3.txt", "tagmanifest-sha256.txt",
                                "tagmanifest-sm3.txt") if not (root / n).exists()]
    for name in missing_tags:
        rep.add("complete", "manifest", False, _("缺少清单文件"), name)
    sha_fails = 0
    try:
        bag = bagit.Bag(str(root))
        bag.validate(processes=1)
    except bagit.BagValidationError as exc:
        for d in getattr(exc, "details", None) or []:
            rep.add("authentic", "manifest-sha256", False, str(d), getattr(d, "path", str(root)))
            sha_fails += 1
        if not getattr(exc, "details", None):
            rep.add("authentic", "manifest-sha256", False, str(exc.message if hasattr(exc, "message") else exc),
                    str(root))
            sha_fails += 1
    except bagit.BagError as exc:
        rep.add("complete", "bagit", False, str(exc), str(root))
        sha_fails += 1
    if not sha_fails:
        rep.add("authentic", "manifest-sha256", True, "", "manifest-sha256.txt", rep.bag)
    sm3 = _read_manifest(root / "manifest-sm3.txt")
    payload = {str(p.relative_to(root)) for p in (root / "data").rglob("*") if p.is_file()}
    sm3_fails = 0
    for rel in sorted(payload | set(sm3)):
        p = root / rel
        if rel not in sm3:
            rep.add("authentic", "manifest-sm3", False, _("不在SM3清单中"), rel)
        elif not p.exists():
            rep.add("authentic", "manifest-sm3", False, _("清单中的文件缺失"), rel)
        elif _hash_file(p, "sm3") != sm3[rel]:
            rep.add("authentic", "manifest-sm3", False, _("SM3摘要不符"), rel)
        else:
            continue
        sm3_fails += 1
    for rel, digest in _read_manifest(root / "tagmanifest-sm3.txt").items():
        if not (root / rel).exists() or _hash_file(root / rel, "sm3") != digest:
            rep.add("authentic", "tagmanifest-sm3", False, _("SM3摘要不符"), rel, rep.bag)
            sm3_fails += 1
    if not sm3_fails and "manifest-sm3.txt" not in missing_tags:
        rep.add("authentic", "manifest-sm3", True, "", "manifest-sm3.txt", rep.bag)
    # per 件: metadata against content, the 四性 of each file, 件号 without gaps
    classes = defaultdict(list)
    for n, folder in enumerate(folders, 1):
        entry = rep.items[folder.name]
        rel_folder = str(folder.relative_to(root))
        m = CODE_RE.match(folder.name)
        if not m:
            rep.add("complete", "archival-code", False, _("文件夹名不是档号"), rel_folder, entry)
        else:
            classes[(m["fonds"], m["year"], m["ret"], m["org"])].append(int(m["seq"]))
        xml = folder / "metadata.xml"
        if not xml.exists():
            rep.add("complete", "metadata", False, _("缺少元数据"), f"{rel_folder}/metadata.xml", entry)
            continue
        try:
            meta = parse_metadata_xml(xml.read_bytes())
        except Exception:
            rep.add("complete", "metadata", False, _("元数据无法解析"), f"{rel_folder}/metadata.xml", entry)
            continue
        entry["title"] = meta["title"] or folder.name
        same = meta["code"] == folder.name
        rep.add("complete", "metadata", same, "" if same else _("元数据中的档号与文件夹不符"),
                f"{rel_folder}/metadata.xml", entry)
        files = {p.name[3:]: p for p in folder.iterdir() if p.name != "metadata.xml"}
        main = None
        for comp in meta["components"]:
            p = files.get(_safe(comp["name"]))
            rel = f"{rel_folder}/{p.name}" if p else f"{rel_folder}/{comp['name']}"
            if p is None:
                rep.add("complete", "components", False, _("元数据列出的组件缺失"), rel, entry)
                continue
            data = p.read_bytes()
            sha_now, sm_now = store.digests(data)
            same = sha_now == comp["sha256"] and sm_now == comp["sm3"]
            rep.add("authentic", "fixity", same, "" if same else _("与元数据记录的摘要不符"), rel, entry)
            mime = _mime_of(comp, p)
            for r in checks.check_blob(p.name, data, mime=mime, signed=comp["signed"], deep=deep):
                rep.add(r["property"], r["check"], r["ok"], r["reason"], rel, entry)
            if comp["type"] in (_("正本"), _("来文")):
                main = data
            elif mime == "application/ofd" and p.name[3:] in (_("正本.ofd"), _("来文.ofd")):
                r = checks.check_ofd_content(meta["title"], meta["number"], rel, data)
                rep.add(r["property"], r["check"], r["ok"], r["reason"], rel, entry)
        if main is not None:
            r = checks.check_content(meta["title"], meta["number"], main)
            rep.add(r["property"], r["check"], r["ok"], r["reason"], rel_folder, entry)
        if progress:
            progress(n, len(folders))
    for key, seqs in classes.items():
        have = set(seqs)
        gap = [s for s in range(1, max(have) + 1) if s not in have]
        rep.add("complete", "sequence", not gap,
                _("件号不连续，缺：%(x)s") % {"x": "、".join(f"{g:04d}" for g in gap[:20])} if gap else "",
                f"data/{key[0]}-WS·{key[1]}-{key[2]}-{key[3]}", rep.bag)
    return rep


def save_bag_run(path, rep: _BagReport, *, person=None):
    """The received bag's report, kept: one CheckRun (stage 接收) with every 件 and its results."""
    from documents.archive.models import CheckRun, CheckStage

    root = Path(path)
    codes = {CODE_RE.match(k)["fonds"] for k in rep.items if CODE_RE.match(k)}
    if not codes:
        ident = _bag_info(root).get("External-Identifier", "")
        codes = {ident.rsplit("-", 1)[0]} if ident else set()
    fonds = Fonds.objects.filter(code=next(iter(codes))).first() if len(codes) == 1 else None
    entries = rep.entries()
    failed = sum(1 for e in rep.items.values() if not e["ok"])
    now = timezone.now()
    return CheckRun.objects.create(
        stage=CheckStage.RECEIPT, fonds=fonds, scope=root.name[:200], finished_at=now,
        ok=all(e["ok"] for e in entries),
        total=len(rep.items), failed=failed, started_name=(person.display_name if person else ""),
        report={"bag": root.name, "items": entries})


def _bag_info(root: Path) -> dict:
    try:
        lines = (root / "bag-info.txt").read_text(encoding="utf-8").splitlines()
    except OSError:
        return {}
    return {k.strip(): v.strip() for k, _sep, v in (line.partition(":") for line in lines) if _sep}


def bag_zip(fonds, year, *, person=None):
    """The bag of one 全宗 and 年度 as a zip in a temporary folder, after the 四性 check at
    transfer (a failure refuses). Returns (path, cleanup, etag). The zip is the same bytes for the
    same holdings all day (entries dated the start of the day, in name order), and the etag, from
    the bag's tag manifest (which covers every file), names those bytes: a resumed download
    (Range with If-Range) continues only the same bytes."""
    import tempfile
    import zipfile

    from documents.archive.models import CheckStage
    from office.errors import ActionError

    items = holdings(fonds, year, states=(ItemState.ACCEPTED,))
    run = checks.run_checks(items, CheckStage.TRANSFER, fonds=fonds, scope=f"{fonds.code}-{year}", person=person,
                            deep=False)
    if not run.ok:
        raise ActionError(_("有 %(n)d 件未通过四性检测，不能移交（见检测报告 #%(r)d）。") % {"n": run.failed, "r": run.id},
                          status=422)
    tmp = Path(tempfile.mkdtemp(prefix="yw-bag-"))
    bag = export_bag(fonds, year, tmp)
    etag = '"bag-' + hashlib.sha256((bag / "tagmanifest-sha256.txt").read_bytes()).hexdigest()[:40] + '"'
    day = _today()
    zpath = tmp / f"{bag.name}.zip"
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as z:
        for p in sorted(bag.rglob("*")):
            if p.is_file():
                info = _zip_entry(f"{bag.name}/{p.relative_to(bag)}", day)
                info.file_size = p.stat().st_size
                with open(p, "rb") as src, z.open(info, "w") as dst:
                    shutil.copyfileobj(src, dst, 1024 * 1024)
    shutil.rmtree(bag)
    return zpath, lambda: shutil.rmtree(tmp, ignore_errors=True), etag
