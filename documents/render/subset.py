"""A fast TrueType subsetter for the OFD writer: the glyphs a document uses, nothing else.

fontTools' subsetter decodes a whole CJK cmap per call (about a second per font); reportlab has
already parsed each role's font once per process (fonts.register()), so this works from its
parse: the glyph ids stay as they are (glyphs not used are emptied and the font ends at the
highest id used), the cmap is rebuilt for the characters used, and the tables a rasteriser
needs (head, hhea, maxp, OS/2, hmtx, loca, glyf, cmap, name, post 3.0, and the hinting tables
fpgm/prep/cvt/gasp) are written with fresh checksums.
"""
from __future__ import annotations

import struct
import sys
from array import array

from reportlab.pdfbase import pdfmetrics

from . import fonts

KEEP_RAW = ("OS/2", "name", "cvt ", "fpgm", "prep", "gasp")


def _face(role: str):
    fonts.register()
    return pdfmetrics.getFont(fonts.font_name(role)).face


def _table(face, tag: str) -> bytes:
    t = face.table[tag]
    return face._ttf_data[t["offset"]:t["offset"] + t["length"]]


def _components(glyph: bytes) -> list[int]:
    """Glyph ids a composite glyph refers to."""
    if len(glyph) < 10 or struct.unpack(">h", glyph[:2])[0] >= 0:
        return []
    out, pos = [], 10
    while pos + 4 <= len(glyph):
        flags, gid = struct.unpack(">HH", glyph[pos:pos + 4])
        out.append(gid)
        pos += 4 + (4 if flags & 0x0001 else 2)
        if flags & 0x0008:
            pos += 2
        elif flags & 0x0040:
            pos += 4
        elif flags & 0x0080:
            pos += 8
        if not flags & 0x0020:
            break
    return out


def _be32(values) -> array:
    """Big-endian 32-bit words (array arithmetic stays in C)."""
    words = array("I", values)
    if sys.byteorder == "little":
        words.byteswap()
    return words


def _checksum(data: bytes) -> int:
    data = bytes(data) + b"\0" * (-len(data) % 4)
    words = array("I", data)
    if sys.byteorder == "little":
        words.byteswap()
    return sum(words) & 0xFFFFFFFF


def _cmap(mapping: dict[int, int]) -> bytes:
    """A format 4 cmap (Windows Unicode BMP), one segment per character."""
    codes = sorted(c for c in mapping if c < 0xFFFF)
    segs = [(c, c, (mapping[c] - c) % 0x10000) for c in codes] + [(0xFFFF, 0xFFFF, 1)]
    n = len(segs)
    search = 2 ** (n.bit_length() - 1) * 2
    header = struct.pack(">HHHHHHH", 4, 16 + 8 * n, 0, 2 * n, search, (search // 2).bit_length() - 1,
                         2 * n - search)
    body = (struct.pack(f">{n}H", *(s[1] for s in segs)) + b"\0\0" + struct.pack(f">{n}H", *(s[0] for s in segs))
            + struct.pack(f">{n}H", *(s[2] for s in segs)) + struct.pack(f">{n}H", *([0] * n)))
    sub = header + body
    return struct.pack(">HHHHL", 0, 1, 3, 1, 12) + sub


def subset_font(role: str, chars: set[str]) -> bytes:
    """TrueType bytes of `role`'s font holding the glyphs of `chars` (with a Unicode cmap)."""
    face = _face(role)
    glyf = _table(face, "glyf")
    pos = face.glyphPos
    mapping = {ord(ch): face.charToGlyph[ord(ch)] for ch in chars if ord(ch) in face.charToGlyph}
    wanted = {0} | set(mapping.values())
    todo = list(wanted)
    while todo:
        gid = todo.pop()
        for comp in _components(glyf[pos[gid]:pos[gid + 1]]):
            if comp not in wanted and comp < face.numGlyphs:
                wanted.add(comp)
                todo.append(comp)
    num = max(wanted) + 1
    new_glyf = bytearray()
    loca: list[int] = []  # loca[g] = where glyph g starts; the glyphs not used are empty
    for gid in sorted(wanted):
        loca.extend([len(new_glyf)] * (gid + 1 - len(loca)))
        new_glyf += glyf[pos[gid]:pos[gid + 1]]
        new_glyf += b"\0" * (-len(new_glyf) % 4)
    loca.append(len(new_glyf))
    long_loca = True  # 32-bit offsets: no per-glyph arithmetic (the ZIP deflates the runs)
    loca_bytes = _be32(loca).tobytes()

    hhea = bytearray(_table(face, "hhea"))
    n_hm = struct.unpack(">H", hhea[34:36])[0]
    hmtx_raw = _table(face, "hmtx")
    new_nhm = min(n_hm, num)
    hmtx = hmtx_raw[:4 * new_nhm]
    if num > new_nhm:  # then new_nhm == n_hm: the left side bearings that follow the full metrics
        hmtx += hmtx_raw[4 * n_hm:4 * n_hm + 2 * (num - n_hm)]
    hhea[34:36] = struct.pack(">H", new_nhm)
    maxp = bytearray(_table(face, "maxp"))
    maxp[4:6] = struct.pack(">H", num)
    head = bytearray(_table(face, "head"))
    head[8:12] = b"\0\0\0\0"  # checkSumAdjustment, set below
    head[50:52] = struct.pack(">h", 1 if long_loca else 0)
    post = bytearray(_table(face, "post")[:32])
    post[0:4] = struct.pack(">L", 0x00030000)

    tables = {"head": bytes(head), "hhea": bytes(hhea), "maxp": bytes(maxp), "hmtx": bytes(hmtx),
              "loca": loca_bytes, "glyf": bytes(new_glyf), "cmap": _cmap(mapping), "post": bytes(post)}
    for tag in KEEP_RAW:
        if tag in face.table:
            tables[tag] = _table(face, tag)
    tags = sorted(tables)
    n = len(tags)
    search = 2 ** (n.bit_length() - 1)
    out = bytearray(struct.pack(">LHHHH", 0x00010000, n, search * 16, search.bit_length() - 1, n * 16 - search * 16))
    offset = 12 + 16 * n
    directory, blobs = bytearray(), bytearray()
    head_at = 0
    for tag in tags:
        data = tables[tag]
        if tag == "head":
            head_at = offset
        directory += struct.pack(">4sLLL", tag.encode("latin-1"), _checksum(data), offset, len(data))
        padded = data + b"\0" * (-len(data) % 4)
        blobs += padded
        offset += len(padded)
    font = out + directory + blobs
    adjust = (0xB1B0AFBA - _checksum(bytes(font))) & 0xFFFFFFFF
    font[head_at + 8:head_at + 12] = struct.pack(">L", adjust)
    return bytes(font)


def family_name(role: str) -> str:
    face = _face(role)
    return face.familyName.decode("latin-1") if isinstance(face.familyName, bytes) else str(face.familyName)
