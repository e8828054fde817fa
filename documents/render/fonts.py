"""Font discovery for 公文 rendering.

Five roles of GB/T 9704 (see shared/reference/fonts.md):

    xiaobiaosong 小标宋  titles, the red 发文机关标志
    fangsong     仿宋    body, 字号, 版记
    heiti        黑体    first-level headings, 紧急程度
    kaiti        楷体    second-level headings, 签发人 names
    songti       宋体    page numbers, fallback

Licensed TrueType files dropped into FONT_DIR (env YW_FONT_DIR, or the Django
setting YW_FONT_DIR, default <VAR_DIR>/fonts/licensed) win over the free
stand-ins; the stand-ins are the Debian fonts and the two converted by
scripts/prepare_fonts.py into <VAR_DIR>/fonts/prepared. Fonts are registered
with reportlab once per process.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent

ROLES = ("xiaobiaosong", "fangsong", "heiti", "kaiti", "songti")

# The names an office PC knows: written into .docx files (w:eastAsia).
CANONICAL_NAMES = {
    "xiaobiaosong": "方正小标宋简体",
    "fangsong": "仿宋_GB2312",
    "heiti": "黑体",
    "kaiti": "楷体_GB2312",
    "songti": "宋体",
}

# Keywords (lower case) recognised in a licensed font's file name or family name.
LICENSED_KEYWORDS = {
    "xiaobiaosong": ("小标宋", "xiaobiaosong", "xbs", "fzxbs"),
    "fangsong": ("仿宋", "fangsong", "simfang", "fs_gb2312"),
    "heiti": ("黑体", "simhei", "heiti"),
    "kaiti": ("楷体", "simkai", "kaiti", "kai_gb2312"),
    "songti": ("宋体", "simsun", "songti"),
}

SYSTEM = {
    "heiti": ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    "kaiti": ("/usr/share/fonts/truetype/lxgw-wenkai/LXGWWenKai-Regular.ttf", 0),
    "songti": ("/usr/share/fonts/truetype/arphic-gbsn00lp/gbsn00lp.ttf", 0),
}
PREPARED = {
    "fangsong": "FandolFang-Regular.ttf",
    "xiaobiaosong": "NotoSerifCJKsc-Bold.ttf",
}
# When a prepared font is missing (prepare_fonts.py not run), fall back to an
# installed TrueType face of the nearest style so that rendering still works.
FALLBACK = {
    "fangsong": ("/usr/share/fonts/truetype/arphic-gbsn00lp/gbsn00lp.ttf", 0),
    "xiaobiaosong": ("/usr/share/fonts/truetype/arphic-gbsn00lp/gbsn00lp.ttf", 0),
}


@dataclass(frozen=True)
class FontFile:
    role: str
    path: str
    index: int
    source: str  # "licensed" | "prepared" | "system" | "fallback"

    @property
    def reportlab_name(self) -> str:
        return f"YW-{self.role}"


def _var_dir() -> Path:
    try:
        from django.conf import settings

        if settings.configured and getattr(settings, "VAR_DIR", None):
            return Path(settings.VAR_DIR)
    except Exception:  # pragma: no cover - Django absent
        pass
    return Path(os.environ.get("YW_VAR_DIR", ROOT / "var"))


def font_dir() -> Path:
    """The configured folder of licensed fonts."""
    value = os.environ.get("YW_FONT_DIR")
    if not value:
        try:
            from django.conf import settings

            if settings.configured:
                value = getattr(settings, "YW_FONT_DIR", None)
        except Exception:  # pragma: no cover
            value = None
    return Path(value) if value else _var_dir() / "fonts" / "licensed"


def prepared_dir() -> Path:
    value = os.environ.get("YW_PREPARED_FONT_DIR")
    return Path(value) if value else _var_dir() / "fonts" / "prepared"


def _truetype_faces(path: Path):
    """Yield (index, family names) of the TrueType-outline faces of a font file."""
    from fontTools.ttLib import TTCollection, TTFont

    try:
        if path.suffix.lower() in (".ttc", ".otc"):
            faces = list(TTCollection(str(path), lazy=True).fonts)
        else:
            faces = [TTFont(str(path), lazy=True)]
    except Exception:
        return
    for i, face in enumerate(faces):
        if "glyf" not in face:  # CFF outlines: reportlab cannot embed them
            continue
        names = set()
        for rec in face["name"].names:
            if rec.nameID in (1, 4, 16):
                try:
                    names.add(rec.toUnicode().lower())
                except Exception:
                    pass
        yield i, names


def find_licensed(directory: Path | None = None) -> dict[str, FontFile]:
    directory = directory or font_dir()
    found: dict[str, FontFile] = {}
    if not directory.is_dir():
        return found
    files = sorted(p for p in directory.iterdir() if p.suffix.lower() in (".ttf", ".ttc"))
    for path in files:
        for index, names in _truetype_faces(path):
            haystack = " ".join(names | {path.stem.lower()})
            for role, keys in LICENSED_KEYWORDS.items():
                if role in found:
                    continue
                # 小标宋 contains 宋: check the more specific roles first
                if role == "songti" and any(k in haystack for k in LICENSED_KEYWORDS["xiaobiaosong"]):
                    continue
                if any(k in haystack for k in keys):
                    found[role] = FontFile(role, str(path), index, "licensed")
    return found


def discover() -> dict[str, FontFile]:
    """Which file serves each role, licensed first."""
    chosen = find_licensed()
    prep = prepared_dir()
    for role in ROLES:
        if role in chosen:
            continue
        if role in PREPARED and (prep / PREPARED[role]).exists():
            chosen[role] = FontFile(role, str(prep / PREPARED[role]), 0, "prepared")
        elif role in SYSTEM and os.path.exists(SYSTEM[role][0]):
            chosen[role] = FontFile(role, SYSTEM[role][0], SYSTEM[role][1], "system")
        elif role in FALLBACK and os.path.exists(FALLBACK[role][0]):
            chosen[role] = FontFile(role, FALLBACK[role][0], FALLBACK[role][1], "fallback")
        else:
            raise RuntimeError(f"no font for {role}: run scripts/prepare_fonts.py and install scripts/system-deps.txt")
    return chosen


_lock = threading.Lock()
_registered: dict[str, FontFile] | None = None


def register() -> dict[str, FontFile]:
    """Register the five roles with reportlab, once per process; return them."""
    global _registered
    if _registered is not None and not _prepared_since(_registered):
        return _registered
    with _lock:
        if _registered is not None and not _prepared_since(_registered):
            return _registered
        from reportlab.pdfbase import pdfmetrics
        from reportlab.pdfbase.ttfonts import TTFont

        chosen = discover()
        for role, ff in chosen.items():
            pdfmetrics.registerFont(TTFont(ff.reportlab_name, ff.path, subfontIndex=ff.index))
        _registered = chosen
        return chosen


def _prepared_since(chosen: dict[str, FontFile]) -> bool:
    """A role registered with its fallback face whose stand-in is prepared now: `make run` serves
    while scripts/prepare_fonts.py still converts in the background, and the next render takes it."""
    return any(ff.source == "fallback" and role in PREPARED and (prepared_dir() / PREPARED[role]).exists()
               for role, ff in chosen.items())


def reset() -> None:
    """Forget the registration (tests that change FONT_DIR)."""
    global _registered
    with _lock:
        _registered = None


def font_name(role: str) -> str:
    register()
    return f"YW-{role}"
