"""The 密级 guard: classified documents never enter this system.

Art. 26 of the Regulations sends documents marked 秘密, 机密 or 绝密 through
机要 channels. At upload, find_marking() looks where GB/T 9704 puts the 密级
(the first lines at the top left, before the 标志 and the title, possibly
after a 6-digit 份号) and in the file's properties (PDF Info/XMP, .docx core
and custom properties, page headers). Only a marking IN THAT PLACE counts: body
text such as "做好保密工作" or "保守国家秘密" is not a marking.

check_not_classified() raises ClassifiedRefused (an ActionError, HTTP 400)
with a Chinese message pointing to the 机要 channel. It fails closed: a PDF it
cannot read is refused (UnreadableRefused). Uploads are read in place (from
their temporary file), never copied whole into memory.
"""
from __future__ import annotations

import io
import re
import zipfile

from django.utils.translation import gettext as _

from office.errors import ActionError

MARKS = ("绝密", "机密", "秘密")
HEAD_LINES = 6  # how many first lines form the 密级 place
_STAR = "★☆*＊"
# a line that IS a marking: optional 份号, the level, optional ★ and 保密期限
RE_MARK_LINE = re.compile(
    rf"^(?:\d{{6}})?(?:密级[:：]?)?(绝密|机密|秘密)(?:[{_STAR}](?:\S{{0,12}}))?$"
)
# a line that STARTS with a marking and its star (份号 and marking may share a line with 紧急程度)
RE_MARK_START = re.compile(rf"^(?:\d{{6}})?(?:密级[:：]?)?(绝密|机密|秘密)[{_STAR}]")
RE_MARK_LABEL = re.compile(r"密级[:：]\s*(绝密|机密|秘密)")
NOT_CLASSIFIED = ("非密", "公开", "无", "不涉密", "内部")
PROPERTY_KEYS = ("密级", "classification", "security", "securitylevel", "密级标志", "保密等级")


class ClassifiedRefused(ActionError):
    def __init__(self, mark: str):
        super().__init__(
            _("该文件标有“%(mark)s”密级。涉密文件不得通过本系统传输或办理，"
              "请通过机要渠道（机要交通、机要通信或涉密网络）报送。") % {"mark": mark},
            status=400,
            code="classified",
        )
        self.mark = mark


def _norm(line: str) -> str:
    return re.sub(r"[\s\u3000]+", "", line or "")


def mark_in_lines(lines) -> str | None:
    """The marking found in the first non-empty lines (the 密级 place)."""
    seen = 0
    for raw in lines:
        line = _norm(raw)
        if not line:
            continue
        seen += 1
        for rx in (RE_MARK_LINE, RE_MARK_START):
            m = rx.match(line)
            if m:
                return m.group(1)
        m = RE_MARK_LABEL.match(line)
        if m:
            return m.group(1)
        # 份号, 密级 and 紧急程度 may stand on one line separated by spaces
        for token in re.split(r"[\s\u3000]+", (raw or "").strip()):
            m = RE_MARK_LINE.match(token)
            if m and token != line:
                return m.group(1)
        if seen >= HEAD_LINES:
            break
    return None


def mark_in_property(key: str, value) -> str | None:
    if value is None:
        return None
    text = _norm(str(value))
    if not text:
        return None
    k = _norm(str(key)).lower().lstrip("/")
    if any(p in k for p in PROPERTY_KEYS):
        if any(text.startswith(n) for n in NOT_CLASSIFIED):
            return None
        for mark in MARKS:
            if mark in text:
                return mark
        return None
    # ordinary properties (title, subject, keywords): only a marking standing alone
    for token in re.split(r"[;,；，、\s]+", str(value)):
        m = RE_MARK_LINE.match(_norm(token)) or RE_MARK_START.match(_norm(token))
        if m:
            return m.group(1)
    return None


# ------------------------------------------------------------------ per format

class UnreadableRefused(ActionError):
    """A PDF the guard cannot read: it cannot say the file is unmarked, so the file is refused."""

    def __init__(self):
        super().__init__(
            _("无法读取该PDF文件，不能确认它没有密级标志，因此不能上传。请用原软件重新导出PDF后再试；"
              "涉密文件请通过机要渠道报送。"),
            status=400,
            code="unreadable",
        )


def _pdf_marking(source) -> str | None:
    """Fails closed: a PDF that pikepdf or pdfplumber cannot open is refused (UnreadableRefused)."""
    import pdfplumber
    import pikepdf

    try:
        with pikepdf.open(_rewound(source)) as pdf:
            for key, value in (pdf.docinfo or {}).items():
                found = mark_in_property(str(key), value)
                if found:
                    return found
            try:
                meta = pdf.open_metadata()
                for key in list(meta.keys()):
                    found = mark_in_property(key.split("}")[-1], meta.get(key))
                    if found:
                        return found
            except Exception:
                pass  # broken XMP: the Info dictionary and the first page still decide
    except Exception:
        raise UnreadableRefused() from None
    try:
        with pdfplumber.open(_rewound(source)) as pdf:
            for page in pdf.pages[:1]:
                # the 密级 place: top-left of the first page, read line by line
                top = page.crop((0, 0, page.width, page.height * 0.45))
                text = top.extract_text() or ""
                found = mark_in_lines(text.splitlines())
                if found:
                    return found
    except Exception:
        raise UnreadableRefused() from None
    return None


def _docx_marking(source) -> str | None:
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        zf = zipfile.ZipFile(_rewound(source))
    except zipfile.BadZipFile:
        return None
    names = set(zf.namelist())

    def xml(name):
        if name not in names:
            return None
        info = zf.getinfo(name)
        if info.file_size > 20 * 1024 * 1024:
            return None
        content = zf.read(name)
        if b"<!ENTITY" in content.upper():
            return None
        try:
            return etree.fromstring(content, parser)
        except etree.XMLSyntaxError:
            return None

    core = xml("docProps/core.xml")
    if core is not None:
        for el in core.iter():
            if isinstance(el.tag, str):
                found = mark_in_property(el.tag.split("}")[-1], el.text)
                if found:
                    return found
    custom = xml("docProps/custom.xml")
    if custom is not None:
        for prop in custom.iter("{*}property"):
            value = "".join(prop.itertext())
            found = mark_in_property(prop.get("name", ""), value)
            if found:
                return found
    w = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"

    def para_lines(root, limit=None):
        lines = []
        for p in root.iter(w + "p"):
            text = "".join(t.text or "" for t in p.iter(w + "t"))
            if text.strip():
                lines.append(text)
            if limit and len(lines) >= limit:
                break
        return lines

    for name in sorted(n for n in names if re.match(r"word/header\d*\.xml$", n)):
        root = xml(name)
        if root is not None:
            found = mark_in_lines(para_lines(root, HEAD_LINES))
            if found:
                return found
    body = xml("word/document.xml")
    if body is not None:
        return mark_in_lines(para_lines(body, HEAD_LINES))
    return None


def _text_marking(head: bytes) -> str | None:
    for enc in ("utf-8-sig", "gb18030"):
        try:
            text = head.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:
        return None
    return mark_in_lines(text.splitlines())


TEXT_HEAD = 64 * 1024


def _rewound(source):
    if hasattr(source, "seek"):
        source.seek(0)
    return source


def _stream(data):
    """The upload as a seekable binary stream, never read whole into memory: bytes are wrapped,
    an upload spooled to disk is opened by its path, any other file object is used as it is."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return io.BytesIO(data), False
    path = getattr(data, "temporary_file_path", None)
    if callable(path):
        return open(path(), "rb"), True
    stream = getattr(data, "file", None) or data
    return stream, False


def find_marking(data, filename: str = "") -> str | None:
    """秘密/机密/绝密 when the file carries that marking in the 密级 place, else None.

    `data` is bytes or an (uploaded) file; a file is read in place, not copied into memory.
    Raises UnreadableRefused for a PDF it cannot read."""
    name = (filename or "").lower()
    stream, opened = _stream(data)
    try:
        stream.seek(0)
        head = stream.read(TEXT_HEAD)
        if head.startswith(b"%PDF-") or name.endswith(".pdf"):
            return _pdf_marking(stream)
        if head[:2] == b"PK":  # .docx (and other OOXML): properties, headers, first lines
            try:
                return _docx_marking(stream)
            except Exception:
                return None
        if b"\x00" not in head[:4096]:  # plain text
            return _text_marking(head)
        return None
    finally:
        if opened:
            stream.close()
        elif hasattr(stream, "seek"):
            stream.seek(0)


def check_not_classified(data, filename: str = "") -> None:
    """Raise ClassifiedRefused when the upload is marked 秘密/机密/绝密 (bytes or a file object)."""
    mark = find_marking(data, filename)
    if mark:
        raise ClassifiedRefused(mark)
