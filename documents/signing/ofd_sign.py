"""SM2 seals on OFD (GB/T 33190 §18 with GB/T 38540 SES_Signature), and their verification.

用印 adds, per seal:

    Doc_0/Signs/Signatures.xml             the list (MaxSignId, Signature ID/Type="Seal"/BaseLoc)
    Doc_0/Signs/Sign_N/Signature.xml       SignedInfo: Provider, SignatureMethod (SM2-SM3), SignatureDateTime,
                                           References (CheckMethod SM3) with a CheckValue per file of the
                                           package, StampAnnot (page, boundary: the seal picture), Seal
    Doc_0/Signs/Sign_N/Seal.esl            the unit's SES_Seal
    Doc_0/Signs/Sign_N/SignedValue.dat     the SES_Signature over SM3(Signature.xml)

Each signature's References cover every file present when it is made (earlier signatures too),
except Signatures.xml, which verification rebuilds from the signatures and compares.
"""
from __future__ import annotations

import base64
import datetime as dt
import io
import re
import zipfile
import xml.etree.ElementTree as ET
from xml.sax.saxutils import quoteattr

from . import sm2
from .pades import SignatureReport, VerifyReport
from .ses import SESeal, load_signature, make_signature

NS = "http://www.ofdspec.org/2016"
Q = "{%s}" % NS
SIGNS = "Doc_0/Signs"
MAX_OFD_BYTES = 50 * 1024 * 1024
MAX_MEMBERS = 2000
MAX_MEMBER_BYTES = 100 * 1024 * 1024


class OfdError(Exception):
    """An OFD that cannot be signed or read; the message is for people (Chinese)."""


def is_ofd(data: bytes) -> bool:
    return data[:4] == b"PK\x03\x04"


def _read(data: bytes) -> dict[str, bytes]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_MEMBERS or sum(i.file_size for i in infos) > MAX_MEMBER_BYTES:
                raise OfdError("OFD文件过大或条目过多")
            files = {}
            for info in infos:
                if info.is_dir():
                    continue
                files[info.filename] = zf.read(info)
            return files
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, RuntimeError, ValueError) as exc:
        raise OfdError("OFD文件已损坏，无法读取") from exc


def _pack(files: dict[str, bytes]) -> bytes:
    from documents.render.ofd import pack

    return pack(files)


def _sm3_b64(data: bytes) -> str:
    return base64.b64encode(sm2.sm3(data)).decode()


def _signatures_xml(entries: list[tuple[str, str]]) -> bytes:
    items = "".join(f'<ofd:Signature ID="{sid}" Type="Seal" BaseLoc="{loc}"/>' for sid, loc in entries)
    return (f'<?xml version="1.0" encoding="UTF-8"?><ofd:Signatures xmlns:ofd="{NS}">'
            f'<ofd:MaxSignId>{len(entries)}</ofd:MaxSignId>{items}</ofd:Signatures>').encode("utf-8")


def _entries(files: dict[str, bytes]) -> list[tuple[str, str]]:
    data = files.get(f"{SIGNS}/Signatures.xml")
    if not data:
        return []
    root = _xml(data)
    return [(e.get("ID", ""), e.get("BaseLoc", "")) for e in root.iter(Q + "Signature")]


def _xml(data: bytes):
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise OfdError("OFD中含有不允许的XML声明")
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:
        raise OfdError("OFD中的XML已损坏") from exc


def _page_id(files: dict[str, bytes], page: int) -> str:
    pages = list(_xml(files["Doc_0/Document.xml"]).iter(Q + "Page"))
    if not 0 <= page < len(pages):
        raise OfdError("签章页不存在")
    return pages[page].get("ID")


def sign_ofd(data: bytes, signer, *, page: int, boundary_mm: tuple[float, float, float, float],
             at: dt.datetime | None = None) -> bytes:
    """Add one SM2 seal (an SES_Signature by `signer`, see signing.remote.SM2Signer) to an OFD,
    its picture drawn at `boundary_mm` (x, y, w, h from the page's top-left) on `page` (0-based)."""
    files = _read(data)
    entry = files.get("OFD.xml")
    if entry is None:
        raise OfdError("不是OFD文件（缺少OFD.xml）")
    at = (at or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc).replace(microsecond=0)
    if b"<ofd:Signatures>" not in entry:
        entry = entry.replace(b"</ofd:DocRoot>", f"</ofd:DocRoot><ofd:Signatures>{SIGNS}/Signatures.xml"
                                                  "</ofd:Signatures>".encode(), 1)
        files["OFD.xml"] = entry
    entries = _entries(files)
    n = len(entries)
    folder = f"{SIGNS}/Sign_{n}"
    seal_der = signer.seal
    files[f"{folder}/Seal.esl"] = seal_der
    refs = "".join(
        f'<ofd:Reference FileRef={quoteattr("/" + name)}><ofd:CheckValue>{_sm3_b64(content)}</ofd:CheckValue>'
        f'</ofd:Reference>'
        for name, content in sorted(files.items()) if name != f"{SIGNS}/Signatures.xml")
    x, y, w, h = boundary_mm
    box = " ".join(f"{v:.3f}".rstrip("0").rstrip(".") for v in (x, y, w, h))
    signature_xml = (
        f'<?xml version="1.0" encoding="UTF-8"?><ofd:Signature xmlns:ofd="{NS}"><ofd:SignedInfo>'
        f'<ofd:Provider ProviderName="Yiwangtong" Company="一网通" Version="1.0"/>'
        f'<ofd:SignatureMethod>{sm2.OID_SM2_SM3}</ofd:SignatureMethod>'
        f'<ofd:SignatureDateTime>{at:%Y%m%d%H%M%S}Z</ofd:SignatureDateTime>'
        f'<ofd:References CheckMethod="{sm2.OID_SM3}">{refs}</ofd:References>'
        f'<ofd:StampAnnot ID="{n + 1}" PageRef="{_page_id(files, page)}" Boundary="{box}"/>'
        f'<ofd:Seal><ofd:BaseLoc>/{folder}/Seal.esl</ofd:BaseLoc></ofd:Seal>'
        f'</ofd:SignedInfo><ofd:SignedValue>/{folder}/SignedValue.dat</ofd:SignedValue></ofd:Signature>'
    ).encode("utf-8")
    files[f"{folder}/Signature.xml"] = signature_xml
    files[f"{folder}/SignedValue.dat"] = make_signature(
        seal_der=seal_der, data_hash=sm2.sm3(signature_xml), property_info=f"/{folder}/Signature.xml",
        signer_cert_der=signer.certificate_der, sign=signer.sign_sm2, at=at)
    entries.append((f"s{n + 1:03d}", f"/{folder}/Signature.xml"))
    files[f"{SIGNS}/Signatures.xml"] = _signatures_xml(entries)
    ordered = {"OFD.xml": files.pop("OFD.xml"), **files}
    return _pack(ordered)


# ------------------------------------------------------------------ verification

def _name_of(cert) -> tuple[str, str]:
    subject = cert.subject.native
    return subject.get("common_name", ""), subject.get("organization_name", "")


def verify_ofd(data: bytes, *, roots=None) -> VerifyReport:
    """Verify every SM2 seal of an OFD: the SM2 signatures (seal maker's and signer's), the SM3
    digests of the referenced files, the certificate chain to the suite's SM2 CA; a change to any
    file of the package is reported."""
    from . import gm_seals

    if len(data) > MAX_OFD_BYTES:
        return VerifyReport(False, False, [], "文件过大，无法验证")
    try:
        files = _read(data)
        if "OFD.xml" not in files:
            return VerifyReport(False, False, [], "不是OFD文件")
        entries = _entries(files)
    except OfdError as exc:
        return VerifyReport(False, True, [], f"OFD文件已损坏，无法读取签名（{exc}）")
    if not entries:
        return VerifyReport(False, False, [], "该OFD没有电子签章")
    roots = roots if roots is not None else [c for c in [gm_seals.ca_certificate()] if c is not None]
    reports: list[SignatureReport] = []
    covered: set[str] = {f"{SIGNS}/Signatures.xml"}
    modified = files[f"{SIGNS}/Signatures.xml"] != _signatures_xml(entries)
    for sid, loc in entries:
        reports.append(_verify_one(files, sid, loc.lstrip("/"), roots, covered))
    uncovered = sorted(set(files) - covered)
    if uncovered:
        modified = True
        for r in reports:
            r.problems.append("签章后添加了未受保护的文件：" + "、".join(uncovered[:3]))
            r.changes_after = "other"
            r.covers_whole_file = False
    if modified and all(not r.problems for r in reports):
        for r in reports:
            r.problems.append("签章列表被改动")
            r.changes_after = "other"
    if any(not r.intact for r in reports):
        modified = True
    ok = all(r.intact and r.valid and r.trusted for r in reports) and not modified
    if ok:
        message = "签章有效：" + "、".join(r.organisation or r.signer for r in reports) + "；签章后文件未被改动"
    elif modified:
        message = "签章无效：签章后文件被改动"
    else:
        message = "签章无效：" + "；".join(p for r in reports for p in r.problems)
    return VerifyReport(ok, modified, reports, message)


def _verify_one(files, sid: str, path: str, roots, covered: set[str]) -> SignatureReport:
    report = SignatureReport(field=sid, signer="", organisation="", signed_at=None, intact=False, valid=False,
                             trusted=False, covers_whole_file=True, changes_after="none")
    folder = path.rsplit("/", 1)[0]
    covered.update({path, f"{folder}/SignedValue.dat"})
    xml = files.get(path)
    if xml is None:
        report.problems.append("签章文件缺失")
        return report
    try:
        root = _xml(xml)
    except OfdError as exc:
        report.problems.append(str(exc))
        return report
    signed_value = (root.findtext(f"{Q}SignedValue") or "").lstrip("/")
    when = root.findtext(f"{Q}SignedInfo/{Q}SignatureDateTime") or ""
    m = re.fullmatch(r"(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z", when)
    report.signed_at = f"{m[1]}-{m[2]}-{m[3]} {m[4]}:{m[5]}:{m[6]} UTC" if m else None
    # the SM3 digests of the referenced files
    intact = True
    refs = list(root.iter(Q + "Reference"))
    method = root.find(f"{Q}SignedInfo/{Q}References")
    if method is None or method.get("CheckMethod") != sm2.OID_SM3:
        report.problems.append("摘要算法不是SM3")
        intact = False
    for ref in refs:
        name = (ref.get("FileRef") or "").lstrip("/")
        covered.add(name)
        content = files.get(name)
        if content is None:
            intact = False
            report.problems.append(f"受保护的文件缺失：{name}")
        elif _sm3_b64(content) != (ref.findtext(f"{Q}CheckValue") or "").strip():
            intact = False
            report.problems.append(f"文件被改动：{name}")
    if not refs:
        intact = False
        report.problems.append("签章没有保护任何文件")
    # the SES_Signature
    try:
        sig = load_signature(files.get(signed_value, b""))
    except (ValueError, TypeError, KeyError, AttributeError):
        report.problems.append("签名值无法解析（SES_Signature）")
        report.intact = False
        return report
    tbs = sig["to_sign"]
    if tbs["data_hash"].native != sm2.sm3(xml):
        intact = False
        report.problems.append("签名所保护的Signature.xml被改动")
    report.intact = intact
    try:
        from asn1crypto import x509

        cert = x509.Certificate.load(sig["cert"].native)
        report.signer, report.organisation = _name_of(cert)
        valid = sig["signature_alg_id"].dotted == sm2.OID_SM2_SM3 and sm2.verify(
            sm2.certificate_key(cert), tbs.dump(), sig["signature"].native)
        seal: SESeal = tbs["eseal"]
        maker = x509.Certificate.load(seal["cert"].native)
        seal_ok = sm2.verify(sm2.certificate_key(maker), seal["seal_info"].dump(), seal["signed_value"].native)
        in_seal = sig["cert"].native in [c.native for c in seal["seal_info"]["property"]["cert_list"]]
    except (ValueError, TypeError, KeyError, sm2.SM2Error):
        report.problems.append("证书或印章数据无法解析")
        return report
    if not valid:
        report.problems.append("SM2签名无效")
    if not seal_ok:
        report.problems.append("印章（SES_Seal）的制章签名无效")
    if not in_seal:
        report.problems.append("签名证书不是该印章的证书")
    report.valid = valid and seal_ok and in_seal
    reasons = []
    for root_cert in roots:
        reason = sm2.check_issued_by(cert, root_cert) or sm2.check_issued_by(maker, root_cert)
        if reason is None:
            report.trusted = True
            break
        reasons.append(reason)
    if not report.trusted:
        report.problems.append(reasons[0] if reasons else "没有可信的国密组织CA")
    return report


def seal_boundary_mm(box_pt: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """A PDF-point seal box (x0, y0, x1, y1; origin bottom-left) as OFD (x, y, w, h) in mm."""
    from documents.render.ofd import pt_to_mm_box

    return pt_to_mm_box(*box_pt)

