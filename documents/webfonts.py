"""The on-screen 公文 in the faces of the paper one: per-document subset WOFF2 web fonts.

The document page renders the paper (documents/_paper.html) first; the characters each face
shows are read from that HTML by the classes the stylesheet gives them (documents.css):

    xiaobiaosong 小标宋  .organ, .doc-title
    heiti        黑体    .b-h1
    kaiti        楷体    .b-h2
    fangsong     仿宋    everything else on the paper (not .doc-meta, which is in the UI face)

Each face is subset (fontTools) from the file documents.render.fonts.discover() chooses for its
role — a licensed font dropped into the font folder wins, else the stand-ins scripts/prepare_fonts.py
prepares — to exactly those characters (plus digits and the marks of a 字号, which the page may
update live), as WOFF2. The URL carries a hash of the face's file and of the characters, so it
never changes meaning: the browser keeps it for a year, and an edited document gets new URLs.
The subset reveals which characters a document holds, so it is served only to people who may
read the document (private cache).
"""
from __future__ import annotations

import hashlib
import io
import os
from html.parser import HTMLParser

from django.core.cache import cache

from documents.render import fonts

# role → (CSS family the stylesheet names, the classes whose text is in that face)
FACES = {
    "xiaobiaosong": ("YW XiaoBiaoSong", {"organ", "doc-title"}),
    "heiti": ("YW HeiTi", {"b-h1"}),
    "kaiti": ("YW KaiTi", {"b-h2"}),
    "fangsong": ("YW FangSong", set()),
}
SKIP_CLASSES = {"doc-meta"}  # shown in the UI face
# A 字号 and dates may change on the open page (live updates): their characters are always there.
ALWAYS = {"fangsong": set("0123456789〔〕[]号年月日第、，。：；（）-— ")}
CACHE_SECONDS = 60 * 60 * 24 * 30
MAX_AGE = 60 * 60 * 24 * 365


class _PaperText(HTMLParser):
    """Collect the characters of each face from the paper's HTML."""

    VOID = {"br", "img", "input", "meta", "link", "hr", "wbr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[str | None] = []  # the face each open element sets (None: inherit)
        self.chars = {role: set() for role in FACES}

    def _current(self):
        for role in reversed(self.stack):
            if role is not None:
                return role
        return "fangsong"

    def handle_starttag(self, tag, attrs):
        classes = set((dict(attrs).get("class") or "").split())
        role = None
        if classes & SKIP_CLASSES:
            role = "skip"
        else:
            for name, (_family, marks) in FACES.items():
                if classes & marks:
                    role = name
        if tag not in self.VOID:
            self.stack.append(role)

    def handle_endtag(self, tag):
        if tag not in self.VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data):
        role = self._current()
        if role != "skip":
            self.chars[role].update(ch for ch in data if not ch.isspace())


def chars_by_face(paper_html: str) -> dict[str, str]:
    """role → the sorted characters that face must hold (empty faces left out)."""
    parser = _PaperText()
    parser.feed(paper_html)
    parser.close()
    out = {}
    for role, chars in parser.chars.items():
        if chars:
            out[role] = "".join(sorted(chars | ALWAYS.get(role, set())))
    return out


_digests: dict[tuple, str] = {}


def _file_digest(path: str) -> str:
    """SHA-256 of a font file, once per process and version of the file: the same on every host
    (a page rendered by one server may have its fonts fetched from another)."""
    st = os.stat(path)
    key = (path, st.st_size, st.st_mtime_ns)
    if key not in _digests:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _digests[key] = h.hexdigest()
    return _digests[key]


def _font_identity(role: str, chosen=None) -> tuple[fonts.FontFile, str]:
    ff = (chosen or fonts.discover())[role]
    return ff, f"{_file_digest(ff.path)}|{ff.index}"


def face_hash(role: str, chars: str, chosen=None) -> str:
    _ff, identity = _font_identity(role, chosen)
    return hashlib.sha256(f"{role}\n{identity}\n{chars}".encode()).hexdigest()[:20]


def faces_for(doc_id: int, paper_html: str) -> list[dict]:
    """What the page declares: [{role, family, url}] for the faces the paper uses."""
    chosen = fonts.discover()
    return [{"role": role, "family": FACES[role][0],
             "url": f"/documents/{doc_id}/fonts/{role}.{face_hash(role, chars, chosen)}.woff2"}
            for role, chars in chars_by_face(paper_html).items()]


def subset_woff2(role: str, chars: str) -> bytes:
    """WOFF2 bytes of `role`'s face holding `chars` (fontTools subsetter)."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    ff, _identity = _font_identity(role)
    font = TTFont(ff.path, fontNumber=ff.index, lazy=True)
    opts = subset.Options()
    opts.flavor = "woff2"
    opts.layout_features = []
    opts.hinting = False
    opts.notdef_outline = True
    opts.name_IDs = [0, 1, 2, 3, 4, 5, 6]  # keep copyright/licence-bearing names with the glyphs
    opts.drop_tables += ["BDF", "FFTM", "EBDT", "EBLC", "EBSC"]
    sub = subset.Subsetter(opts)
    sub.populate(text=chars)
    sub.subset(font)
    out = io.BytesIO()
    font.flavor = "woff2"
    font.save(out)
    return out.getvalue()


def woff2_for(doc_id: int, role: str, wanted_hash: str, paper_html_of) -> bytes | None:
    """The WOFF2 of `role` for the paper whose characters hash to `wanted_hash`, or None when the
    document no longer reads so (the page that asked is out of date). `paper_html_of()` renders
    the paper; it is called only when the subset is not cached yet."""
    key = f"yw-webfont:{doc_id}:{role}:{wanted_hash}"
    data = cache.get(key)
    if data is not None:
        return data
    chars = chars_by_face(paper_html_of()).get(role)
    if not chars or face_hash(role, chars) != wanted_hash:
        return None
    data = subset_woff2(role, chars)
    cache.set(key, data, CACHE_SECONDS)
    return data
