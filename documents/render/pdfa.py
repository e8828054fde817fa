"""PDF/A-2b post-processing for archiving (GB/T 23286 ≈ ISO 19005).

reportlab's open-source build writes no PDF/A: to_pdfa() adds what PDF/A-2b
asks beyond what the renderer already does (all fonts embedded, no
encryption, no JavaScript): an OutputIntent with the sRGB ICC profile of
Debian's icc-profiles-free, XMP metadata with pdfaid:part=2 and
pdfaid:conformance=B kept in step with the Info dictionary, /Lang, a file
/ID, and the print flag on annotations.

Validation: veraPDF (the reference PDF/A validator, Java) is not installed on
these machines and not in Debian; check_pdfa() is a STRUCTURAL SELF-CHECK of
the points above plus qpdf's own consistency check (pikepdf.Pdf.check). It is
not a conformance validator: run veraPDF before relying on the files in an
archive (`verapdf --flavour 2b file.pdf`).

Sign AFTER conversion: PAdES signatures are incremental updates, allowed by
PDF/A-2; converting a signed file would break its signatures.
"""
from __future__ import annotations

import io
from pathlib import Path

import pikepdf
from pikepdf import Dictionary, Name, String

ICC_CANDIDATES = (
    "/usr/share/color/icc/sRGB.icc",
    "/usr/share/color/icc/colord/sRGB.icc",
    "/usr/share/color/icc/ghostscript/srgb.icc",
)


def srgb_profile() -> bytes:
    for path in ICC_CANDIDATES:
        p = Path(path)
        if p.exists():
            return p.read_bytes()
    raise RuntimeError("no sRGB ICC profile: apt-get install icc-profiles-free")


def to_pdfa(pdf_bytes: bytes, *, title: str | None = None, author: str | None = None,
            subject: str | None = None, lang: str = "zh-CN", created=None) -> bytes:
    """Return a PDF/A-2b version of a reportlab PDF. `created` (an aware datetime) replaces the
    renderer's creation and modification time: the same content made twice is the same bytes."""
    pdf = pikepdf.open(io.BytesIO(pdf_bytes))
    info = pdf.docinfo
    if created is not None:
        stamp = created.strftime("D:%Y%m%d%H%M%S") + created.strftime("%z")[:3] + "'" + created.strftime("%z")[3:] + "'"
        info["/CreationDate"] = stamp
        info["/ModDate"] = stamp
        if "/ID" in pdf.trailer:  # reportlab's first /ID half is made from the clock; qpdf derives both
            del pdf.trailer["/ID"]
    if title is not None:
        info["/Title"] = title
    if author is not None:
        info["/Author"] = author
    if subject is not None:
        info["/Subject"] = subject
    if "/Trapped" in info:  # no plain XMP equivalent through pikepdf's mapping
        del info["/Trapped"]
    icc = pikepdf.Stream(pdf, srgb_profile())
    icc["/N"] = 3
    intent = Dictionary(
        Type=Name.OutputIntent,
        S=Name.GTS_PDFA1,
        OutputConditionIdentifier=String("sRGB IEC61966-2.1"),
        RegistryName=String("http://www.color.org"),
        Info=String("sRGB IEC61966-2.1"),
        DestOutputProfile=icc,
    )
    pdf.Root.OutputIntents = pikepdf.Array([pdf.make_indirect(intent)])
    pdf.Root.Lang = String(lang)
    if "/MarkInfo" not in pdf.Root:
        pdf.Root.MarkInfo = Dictionary(Marked=False)
    for page in pdf.pages:
        for annot in page.obj.get("/Annots", []):
            annot.F = 4  # print, not hidden
    with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
        meta.load_from_docinfo(pdf.docinfo, raise_failure=False)
        meta["pdfaid:part"] = "2"
        meta["pdfaid:conformance"] = "B"
    out = io.BytesIO()
    pdf.save(out, fix_metadata_version=True, deterministic_id=True,
             object_stream_mode=pikepdf.ObjectStreamMode.preserve)
    return out.getvalue()


def _fonts_of(resources, seen: set, problems: list[str], where: str) -> None:
    if resources is None:
        return
    fonts = resources.get("/Font")
    if fonts is not None:
        for name, font in fonts.items():
            key = font.objgen
            if key in seen:
                continue
            seen.add(key)
            target = font
            if font.get("/Subtype") == "/Type0":
                target = font.DescendantFonts[0]
            if font.get("/Subtype") == "/Type3":
                continue
            desc = target.get("/FontDescriptor")
            if desc is None or not any(k in desc for k in ("/FontFile", "/FontFile2", "/FontFile3")):
                problems.append(f"font {name} ({font.get('/BaseFont')}) not embedded on {where}")
    xobjects = resources.get("/XObject")
    if xobjects is not None:
        for _n, xo in xobjects.items():
            if xo.get("/Subtype") == "/Form" and xo.objgen not in seen:
                seen.add(xo.objgen)
                _fonts_of(xo.get("/Resources"), seen, problems, where)
            if xo.get("/Subtype") == "/Image" and xo.get("/ColorSpace") == "/DeviceCMYK":
                problems.append(f"DeviceCMYK image on {where} with an RGB OutputIntent")


def check_pdfa(pdf_bytes: bytes) -> list[str]:
    """Structural self-check of PDF/A-2b points (see module docstring); [] = passed."""
    problems: list[str] = []
    if not pdf_bytes.startswith(b"%PDF-1."):
        problems.append("header is not %PDF-1.x")
    if b"%PDF-" in pdf_bytes[:1024] and pdf_bytes[pdf_bytes.index(b"\n") + 1:][:1] != b"%":
        problems.append("no binary comment after the header")
    try:
        pdf = pikepdf.open(io.BytesIO(pdf_bytes))
    except pikepdf.PdfError as exc:
        return [f"unreadable: {exc}"]
    problems += [f"qpdf: {w}" for w in pdf.check_pdf_syntax()]
    if pdf.is_encrypted:
        problems.append("encrypted")
    if "/ID" not in pdf.trailer:
        problems.append("no file /ID in the trailer")
    intents = pdf.Root.get("/OutputIntents")
    if not intents:
        problems.append("no OutputIntent")
    else:
        oi = intents[0]
        if oi.get("/S") != "/GTS_PDFA1":
            problems.append("OutputIntent /S is not /GTS_PDFA1")
        prof = oi.get("/DestOutputProfile")
        if prof is None or int(prof.get("/N", 0)) != 3:
            problems.append("OutputIntent has no RGB ICC profile")
        elif prof.read_bytes()[36:40] != b"acsp":
            problems.append("DestOutputProfile is not an ICC profile")
    try:
        meta = pdf.open_metadata()
        if meta.get("pdfaid:part") != "2" or meta.get("pdfaid:conformance") != "B":
            problems.append("XMP lacks pdfaid:part=2 / pdfaid:conformance=B")
        title = str(pdf.docinfo.get("/Title", ""))
        if title and meta.get("dc:title") != title:
            problems.append("XMP dc:title differs from Info /Title")
    except Exception as exc:  # pragma: no cover - broken XMP
        problems.append(f"XMP unreadable: {exc}")
    if "/Names" in pdf.Root and "/JavaScript" in pdf.Root.Names:
        problems.append("document JavaScript")
    if "/OpenAction" in pdf.Root and pdf.Root.OpenAction.get("/S") in ("/JavaScript", "/Launch"):
        problems.append("OpenAction runs JavaScript/Launch")
    seen: set = set()
    for n, page in enumerate(pdf.pages, 1):
        _fonts_of(page.obj.get("/Resources"), seen, problems, f"page {n}")
        for annot in page.obj.get("/Annots", []):
            flags = int(annot.get("/F", 0))
            if not flags & 4 or flags & 2:
                problems.append(f"annotation on page {n} not printable")
            ap = annot.get("/AP")
            if ap is not None and "/N" in ap:
                _fonts_of(ap.N.get("/Resources"), seen, problems, f"page {n} annotation")
    raw = pdf_bytes
    if b"/LZWDecode" in raw:
        problems.append("LZW compression")
    return problems
