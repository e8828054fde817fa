"""OFD components in the archive (GB/T 33190-2016): our own structural reader for the 可用性
check, the 安全性 scan, the text for the 真实性 check (题名 and 文号 in the content), and the
watermarked reading copy that borrowers get.

The reader follows the package from OFD.xml: DocRoot → Document.xml → its pages and resources
(PublicRes/DocumentRes → fonts and pictures), resolving every reference the way the standard
does (a path beginning with "/" from the package root, else from the folder of the file that
names it; a resource file's BaseLoc from the resource file's folder). It does not draw the
pages; it proves that everything a reader needs to draw them is there and well formed.
"""
from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from documents.signing.ofd_sign import OfdError, _read, _xml

NS = "http://www.ofdspec.org/2016"
Q = "{%s}" % NS
MIME = "application/ofd"
FONT_MAGIC = (b"\x00\x01\x00\x00", b"true", b"OTTO", b"ttcf")
EXECUTABLE_MAGIC = (b"MZ", b"\x7fELF", b"#!", b"\xca\xfe\xba\xbe")
EXECUTABLE_EXT = re.compile(r"\.(exe|dll|bat|cmd|com|scr|js|vbs|ps1|sh|jar|msi|apk|elf|so|dylib)$", re.I)
SAFE_URI = re.compile(r"^(https?:|mailto:|#)", re.I)


def is_ofd(name: str, mime: str = "", data: bytes = b"") -> bool:
    return mime == MIME or name.lower().endswith(".ofd")


@dataclass
class OfdInfo:
    pages: int = 0
    text: str = ""
    problems: list[str] = field(default_factory=list)  # structure (可用性)
    font_problems: list[str] = field(default_factory=list)
    active: list[str] = field(default_factory=list)  # 安全性
    encrypted: bool = False
    files: dict = field(default_factory=dict, repr=False)
    doc_path: str = ""
    public_res: list[str] = field(default_factory=list)
    page_paths: list[str] = field(default_factory=list)
    max_unit_id: int = 0


def _resolve(base_file: str, ref: str) -> str:
    ref = (ref or "").strip()
    if ref.startswith("/"):
        return posixpath.normpath(ref.lstrip("/"))
    return posixpath.normpath(posixpath.join(posixpath.dirname(base_file), ref))


def _scan_active(files: dict[str, bytes]) -> list[str]:
    found = []
    for name, content in files.items():
        if EXECUTABLE_EXT.search(name) or any(content.startswith(m) for m in EXECUTABLE_MAGIC):
            found.append(_("嵌入了可执行文件 %(n)s") % {"n": name})
            continue
        if name.lower().endswith(".xml"):
            low = content.lower()
            if b"javascript:" in low or b"<script" in low or b":script" in low:
                found.append(_("%(n)s 中含有脚本") % {"n": name})
            for uri in re.findall(rb'URI\s*=\s*"([^"]*)"', content):
                text = uri.decode("utf-8", "replace")
                if not SAFE_URI.match(text):
                    found.append(_("%(n)s 中有打开外部程序或文件的动作（%(u)s）") % {"n": name, "u": text[:60]})
    return sorted(set(found))


def read(data: bytes) -> OfdInfo:
    """Read an OFD package as a reader would; every problem is a Chinese sentence."""
    info = OfdInfo()
    try:
        files = _read(data)
    except OfdError as exc:
        info.problems.append(str(exc))
        info.encrypted = "encrypted" in repr(exc.__cause__).lower()
        return info
    info.files = files
    info.active = _scan_active(files)
    entry = files.get("OFD.xml")
    if entry is None:
        info.problems.append(_("不是OFD文件（缺少OFD.xml）"))
        return info
    try:
        root = _xml(entry)
        if root.find(f".//{Q}Encryptions") is not None or "Encryptions" in entry.decode("utf-8", "replace"):
            info.encrypted = True
        doc_root = root.findtext(f"{Q}DocBody/{Q}DocRoot") or ""
        if not doc_root:
            info.problems.append(_("OFD.xml 没有指明文档（DocRoot）"))
            return info
        doc_path = _resolve("OFD.xml", doc_root)
        info.doc_path = doc_path
        doc_xml = files.get(doc_path)
        if doc_xml is None:
            info.problems.append(_("缺少文档文件 %(p)s") % {"p": doc_path})
            return info
        doc = _xml(doc_xml)
    except OfdError as exc:
        info.problems.append(str(exc))
        return info
    try:
        info.max_unit_id = int(doc.findtext(f"{Q}CommonData/{Q}MaxUnitID") or 0)
    except ValueError:
        info.problems.append(_("MaxUnitID 不是数字"))
    fonts, media = set(), set()
    res_refs = [(tag, el.text or "") for tag in ("PublicRes", "DocumentRes")
                for el in doc.iter(f"{Q}{tag}")]
    for tag, ref in res_refs:
        res_path = _resolve(doc_path, ref)
        if tag == "PublicRes":
            info.public_res.append(res_path)
        content = files.get(res_path)
        if content is None:
            info.problems.append(_("缺少资源文件 %(p)s") % {"p": res_path})
            continue
        try:
            res = _xml(content)
        except OfdError as exc:
            info.problems.append(f"{res_path}：{exc}")
            continue
        base = res.get("BaseLoc") or ""
        anchor = posixpath.join(posixpath.dirname(res_path), base, "x") if base and not base.startswith("/") \
            else (posixpath.join(base.lstrip("/"), "x") if base else res_path)
        for font in res.iter(f"{Q}Font"):
            fonts.add(font.get("ID"))
            ref_file = font.findtext(f"{Q}FontFile")
            if not ref_file:
                info.font_problems.append(_("字体 %(f)s 未嵌入") % {"f": font.get("FontName") or font.get("ID")})
                continue
            path = _resolve(anchor, ref_file)
            blob = files.get(path)
            if blob is None:
                info.font_problems.append(_("缺少字体文件 %(p)s") % {"p": path})
            elif not blob.startswith(FONT_MAGIC):
                info.font_problems.append(_("字体文件 %(p)s 不是 TrueType/OpenType") % {"p": path})
        for mm in res.iter(f"{Q}MultiMedia"):
            media.add(mm.get("ID"))
            path = _resolve(anchor, mm.findtext(f"{Q}MediaFile") or "")
            if path not in files:
                info.problems.append(_("缺少图像文件 %(p)s") % {"p": path})
    pages = list(doc.iter(f"{Q}Page"))
    if not pages:
        info.problems.append(_("文档没有页面"))
    texts = []
    for n, page in enumerate(pages, 1):
        path = _resolve(doc_path, page.get("BaseLoc") or "")
        info.page_paths.append(path)
        content = files.get(path)
        if content is None:
            info.problems.append(_("第%(n)d页的内容文件缺失（%(p)s）") % {"n": n, "p": path})
            continue
        try:
            page_root = _xml(content)
        except OfdError as exc:
            info.problems.append(_("第%(n)d页：%(e)s") % {"n": n, "e": exc})
            continue
        for obj in page_root.iter(f"{Q}TextObject"):
            if obj.get("Font") not in fonts:
                info.problems.append(_("第%(n)d页引用了不存在的字体 %(f)s") % {"n": n, "f": obj.get("Font")})
                break
            if not _boundary_ok(obj.get("Boundary")):
                info.problems.append(_("第%(n)d页有对象的边界不正确") % {"n": n})
                break
            texts.extend(code.text or "" for code in obj.iter(f"{Q}TextCode"))
        for obj in page_root.iter(f"{Q}ImageObject"):
            if obj.get("ResourceID") not in media:
                info.problems.append(_("第%(n)d页引用了不存在的图像 %(r)s") % {"n": n, "r": obj.get("ResourceID")})
                break
    info.pages = len(pages)
    info.text = "".join(texts)
    return info


def _boundary_ok(value) -> bool:
    try:
        parts = [float(v) for v in (value or "").split()]
    except ValueError:
        return False
    return len(parts) == 4 and parts[2] >= 0 and parts[3] >= 0


def page_count(data: bytes) -> int:
    return read(data).pages


# --------------------------------------------------------------------- watermarked reading copy

WATERMARK_ROLE = "heiti"


def watermark(data: bytes, text: str) -> bytes:
    """A reading copy with `text` (who, unit, when) on every page, in a layer of its own above the
    content, with its own embedded font subset. Like the PDF copy, its seals no longer verify:
    it is a reading copy, the original stays in the archive."""
    from xml.sax.saxutils import escape, quoteattr

    from reportlab.pdfbase.pdfmetrics import stringWidth

    from documents.render import fonts as render_fonts
    from documents.render.ofd import mm, pack
    from documents.render.subset import family_name, subset_font

    info = read(data)
    if info.problems or not info.public_res:
        raise OfdError(_("OFD文件结构不完整，无法生成借阅版本"))
    files = dict(info.files)
    next_id = info.max_unit_id

    def new_id():
        nonlocal next_id
        next_id += 1
        return next_id

    font_id = new_id()
    res_path = info.public_res[0]
    res_xml = files[res_path].decode("utf-8")
    base = re.search(r'BaseLoc="([^"]*)"', res_xml)
    folder = posixpath.join(posixpath.dirname(res_path), base.group(1) if base else "")
    font_file = f"watermark_{font_id}.ttf"
    files[posixpath.normpath(posixpath.join(folder, font_file))] = subset_font(WATERMARK_ROLE, set(text))
    family = family_name(WATERMARK_ROLE)
    font_el = (f'<ofd:Font ID="{font_id}" FontName={quoteattr(family)} FamilyName={quoteattr(family)}>'
               f'<ofd:FontFile>{font_file}</ofd:FontFile></ofd:Font>')
    if "</ofd:Fonts>" in res_xml:
        res_xml = res_xml.replace("</ofd:Fonts>", font_el + "</ofd:Fonts>", 1)
    else:
        res_xml = re.sub(r"(<ofd:Res\b[^>]*>)", lambda m: m.group(1) + f"<ofd:Fonts>{font_el}</ofd:Fonts>", res_xml,
                         count=1)
    files[res_path] = res_xml.encode("utf-8")
    face = render_fonts.font_name(WATERMARK_ROLE)

    def line(x, y, size):
        advances = [stringWidth(ch, face, 1) * size for ch in text]
        width = sum(advances)
        delta = " ".join(mm(a) for a in advances[:-1])
        return (f'<ofd:TextObject ID="{new_id()}" Boundary="{mm(x)} {mm(y)} {mm(width + 1)} {mm(size * 1.4)}" '
                f'Font="{font_id}" Size="{mm(size)}" Alpha="110"><ofd:FillColor Value="128 128 128"/>'
                f'<ofd:TextCode X="0" Y="{mm(size)}" DeltaX="{delta}">{escape(text)}</ofd:TextCode>'
                f'</ofd:TextObject>')

    for path in info.page_paths:
        objs = [line(15, y, 5.0) for y in range(30, 280, 45)] + [line(8, 289, 2.5)]
        layer = f'<ofd:Layer ID="{new_id()}" Type="Foreground">{"".join(objs)}</ofd:Layer>'
        content = files[path].decode("utf-8")
        if "</ofd:Content>" not in content:
            raise OfdError(_("OFD页面没有内容层，无法加水印"))
        files[path] = content.replace("</ofd:Content>", layer + "</ofd:Content>", 1).encode("utf-8")
    doc_xml = files[info.doc_path].decode("utf-8")
    doc_xml = re.sub(r"<ofd:MaxUnitID>\d+</ofd:MaxUnitID>", f"<ofd:MaxUnitID>{next_id}</ofd:MaxUnitID>", doc_xml,
                     count=1)
    files[info.doc_path] = doc_xml.encode("utf-8")
    return pack({"OFD.xml": files.pop("OFD.xml"), **files})
