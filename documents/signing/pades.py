"""PAdES signatures with pyHanko: the seal as the visible stamp, and verification.

sign_pdf() adds one signature in a new field at the seal's place (the box the
renderer reports, GB/T 9704 7.3.5) with the seal picture as its appearance.
seal_document() signs a rendered document with every co-issuer's seal, in the
order of the 署名 (joint documents: one signature each, incremental updates).
verify_pdf() says whether a PDF is valid, who signed, when, and whether anything
changed after signing; it also catches changes pyHanko tolerates (bytes in the
unused padding of a signature's /Contents, bytes appended after the end).
"""
from __future__ import annotations

import io
import re
from dataclasses import asdict, dataclass, field

from asn1crypto import algos
from asn1crypto import x509 as ax509
from cryptography.hazmat.primitives.serialization import Encoding

from .remote import Signer

MAX_PDF_BYTES = 50 * 1024 * 1024


def _off_loop(fn, *args, **kwargs):
    """pyHanko's sync API calls asyncio.run(): from a thread with a running event loop
    (an async view, Playwright's sync API) run it in a worker thread instead."""
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return fn(*args, **kwargs)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn, *args, **kwargs).result()


class _PyHankoSigner:
    """Builds a pyhanko Signer that delegates the raw signature to our Signer."""

    @staticmethod
    def make(signer: Signer):
        from pyhanko.sign import signers as ph_signers
        from pyhanko_certvalidator.registry import SimpleCertificateStore

        class Delegating(ph_signers.Signer):
            def __init__(self, inner: Signer):
                cert = ax509.Certificate.load(inner.certificate.public_bytes(Encoding.DER))
                registry = SimpleCertificateStore.from_certs(
                    [ax509.Certificate.load(c.public_bytes(Encoding.DER)) for c in inner.chain])
                super().__init__(signing_cert=cert, cert_registry=registry,
                                 signature_mechanism=algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"}))
                self.inner = inner

            async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run=False) -> bytes:
                if dry_run:
                    return bytes(72)  # the longest DER ECDSA P-256 signature
                return self.inner.sign_raw(data, digest_algorithm)

        return Delegating(signer)


def _stamp_style(picture: bytes):
    from PIL import Image
    from pyhanko.pdf_utils.images import PdfImage
    from pyhanko.stamp import StaticStampStyle

    img = Image.open(io.BytesIO(picture))
    img.load()
    return StaticStampStyle(background=PdfImage(img), background_opacity=1.0, border_width=0)


def sign_pdf(pdf: bytes, signer: Signer, *, page: int, box: tuple[float, float, float, float],
             field_name: str, reason: str = "公文用印", location: str = "") -> bytes:
    """Add one PAdES signature with a visible seal stamp at `box` on `page` (0-based)."""
    return _off_loop(_sign_pdf, pdf, signer, page=page, box=box, field_name=field_name, reason=reason,
                     location=location)


def _sign_pdf(pdf: bytes, signer: Signer, *, page: int, box, field_name: str, reason: str,
              location: str) -> bytes:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    meta = signers.PdfSignatureMetadata(
        field_name=field_name, reason=reason, location=location or None, name=signer.organ,
        subfilter=fields.SigSeedSubFilter.PADES, md_algorithm="sha256",
    )
    spec = fields.SigFieldSpec(sig_field_name=field_name, on_page=page,
                               box=tuple(int(round(v)) for v in box))
    pdf_signer = signers.PdfSigner(meta, signer=_PyHankoSigner.make(signer),
                                   stamp_style=_stamp_style(signer.picture), new_field_spec=spec)
    out = io.BytesIO()
    pdf_signer.sign_pdf(writer, output=out)
    return out.getvalue()


def seal_document(result, signers: list[Signer], *, person_id: int | None = None,
                  document_id: int | None = None, field_prefix: str = "seal") -> bytes:
    """Sign a RenderResult with every seal, in 署名 order. Each LocalSealSigner
    use is written to the unit's 用印 log. The caller checks the 签发 first."""
    import hashlib

    from .ca import log_use
    from .remote import LocalSealSigner

    boxes = list(result.seal_boxes)
    if len(boxes) != len(signers):
        raise ValueError(f"{len(boxes)} seal places but {len(signers)} signers")
    pdf = result.pdf
    for n, (box, signer) in enumerate(zip(boxes, signers), 1):
        pdf = sign_pdf(pdf, signer, page=box.page, box=box.box,
                       field_name=f"{field_prefix}{n}" if field_prefix == "seal" else field_prefix.rstrip("-"))
        if isinstance(signer, LocalSealSigner):
            log_use(signer.material.unit_id, person_id=person_id, document_id=document_id,
                    purpose="公文用印", digest=hashlib.sha256(pdf).hexdigest())
    return pdf


# ------------------------------------------------------------------ verification

@dataclass
class SignatureReport:
    field: str
    signer: str
    organisation: str
    signed_at: str | None
    intact: bool
    valid: bool
    trusted: bool
    covers_whole_file: bool
    changes_after: str  # "none" | "signatures" | "other"
    problems: list[str] = field(default_factory=list)


@dataclass
class VerifyReport:
    valid: bool
    modified_after_signing: bool
    signatures: list[SignatureReport]
    message: str

    def as_dict(self) -> dict:
        return asdict(self)


def _contents_padding_clean(data: bytes, byte_range) -> bool:
    """The /Contents hex string between the two signed ranges must hold the DER
    signature followed by zero padding only."""
    a, b, c, _d = (int(v) for v in byte_range)
    raw = data[a + b:c].strip()
    if not (raw.startswith(b"<") and raw.endswith(b">")):
        return False
    hexdata = raw[1:-1]
    if not re.fullmatch(rb"[0-9a-fA-F]*", hexdata) or len(hexdata) % 2:
        return False
    blob = bytes.fromhex(hexdata.decode())
    if len(blob) < 2 or blob[0] != 0x30:
        return False
    # DER length
    first = blob[1]
    if first < 0x80:
        total = 2 + first
    else:
        n = first & 0x7F
        total = 2 + n + int.from_bytes(blob[2:2 + n], "big")
    return total <= len(blob) and not any(blob[total:])


def _trust_roots(extra=None):
    from .ca import ca_certificate

    roots = []
    ca = ca_certificate()
    if ca is not None:
        roots.append(ax509.Certificate.load(ca.public_bytes(Encoding.DER)))
    for cert in extra or ():
        roots.append(ax509.Certificate.load(cert.public_bytes(Encoding.DER)))
    return roots


def verify_pdf(data: bytes, *, extra_roots=None) -> VerifyReport:
    """Verify every signature of a PDF against the organisational CA."""
    return _off_loop(_verify_pdf, data, extra_roots=extra_roots)


def _verify_pdf(data: bytes, *, extra_roots=None) -> VerifyReport:
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.diff_analysis import ModificationLevel
    from pyhanko.sign.validation.errors import SignatureValidationError
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    if len(data) > MAX_PDF_BYTES:
        return VerifyReport(False, False, [], "文件过大，无法验证")
    if not data.startswith(b"%PDF-"):
        return VerifyReport(False, False, [], "不是PDF文件")
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        embedded = list(reader.embedded_signatures)
    except Exception:
        return VerifyReport(False, True, [], "PDF文件已损坏，无法读取签名")
    if not embedded:
        return VerifyReport(False, False, [], "该PDF没有电子签章")
    ctx_roots = _trust_roots(extra_roots)
    reports: list[SignatureReport] = []
    ends = []
    for emb in embedded:
        problems: list[str] = []
        vc = ValidationContext(trust_roots=ctx_roots, allow_fetching=False, revocation_mode="soft-fail")
        signer = organisation = ""
        signed_at = None
        intact = valid = trusted = False
        covers = False
        changes = "other"
        try:
            status = validate_pdf_signature(emb, vc)
            intact, valid, trusted = bool(status.intact), bool(status.valid), bool(status.trusted)
            cert = status.signing_cert
            signer = cert.subject.native.get("common_name", "") if cert else ""
            organisation = cert.subject.native.get("organization_name", "") if cert else ""
            when = status.signer_reported_dt
            signed_at = when.isoformat() if when else None
            covers = status.coverage is not None and status.coverage.name == "ENTIRE_FILE"
            level = status.modification_level
            if covers:
                changes = "none"
            elif level is not None and level <= ModificationLevel.FORM_FILLING and status.docmdp_ok is not False:
                changes = "signatures"
            else:
                changes = "other"
        except (SignatureValidationError, PdfError, ValueError, KeyError, TypeError) as exc:
            problems.append(f"签名无法验证：{type(exc).__name__}")
        except Exception as exc:  # a broken file must give a report, never a 500
            problems.append(f"签名无法验证：{type(exc).__name__}")
        try:
            byte_range = emb.sig_object["/ByteRange"]
            if not _contents_padding_clean(data, byte_range):
                problems.append("签名值区域被改动")
                valid = False
            ends.append(int(byte_range[2]) + int(byte_range[3]))
        except Exception:
            problems.append("签名字节范围无效")
            valid = False
        if not intact:
            problems.append("签名后文件内容被改动（摘要不符）")
        elif not valid:
            problems.append("签名值无效")
        if intact and valid and not trusted:
            problems.append("签章证书不是本系统组织CA签发的")
        reports.append(SignatureReport(emb.field_name, signer, organisation, signed_at, intact, valid, trusted,
                                       covers, changes, problems))
    appended = bool(ends) and max(ends) != len(data)
    if appended:
        reports[-1].problems.append("最后一次签章后文件末尾被追加了内容")
    modified = appended or any(r.changes_after == "other" or not r.intact for r in reports)
    ok = (not modified and all(r.intact and r.valid and r.trusted and not r.problems for r in reports))
    if ok:
        names = "、".join(r.organisation or r.signer for r in reports)
        message = f"签章有效：{names}；签章后文件未被改动"
    elif modified:
        message = "签章无效：签章后文件被改动"
    else:
        message = "签章无效：" + "；".join(p for r in reports for p in r.problems)
    return VerifyReport(ok, modified, reports, message)
