"""国密 seals: SM2/SM3 signatures checked by OpenSSL's command line, GB/T 38540 seals on OFD, and
verification that reports a one-byte change anywhere."""
from __future__ import annotations

import hashlib
import io
import subprocess
import zipfile
import xml.etree.ElementTree as ET

import pytest
from asn1crypto import x509

from documents.render.model import Seal
from documents.render.ofd import pack, render_ofd
from documents.render.samples import sample_doc
from documents.signing import ca, gm_seals, sm2
from documents.signing.ofd_sign import seal_boundary_mm, sign_ofd, verify_ofd
from documents.signing.remote import FakeRemoteESealService, LocalSM2Signer, RemoteSM2Signer, SigningRefused
from documents.signing.ses import SESeal, SESSignature

DISTID = "distid:1234567812345678"  # the standard default user ID (OpenSSL 3's default is empty)
NS = {"ofd": "http://www.ofdspec.org/2016"}


def _openssl(*args, cwd):
    return subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def _openssl_verifies(tmp_path, public: sm2.PublicKey, message: bytes, signature: bytes) -> bool:
    (tmp_path / "pub.pem").write_bytes(public.pem())
    (tmp_path / "msg").write_bytes(message)
    (tmp_path / "sig").write_bytes(signature)
    out = _openssl("pkeyutl", "-verify", "-rawin", "-digest", "sm3", "-pubin", "-inkey", "pub.pem", "-in", "msg",
                   "-sigfile", "sig", "-pkeyopt", DISTID, cwd=tmp_path)
    return out.returncode == 0 and "Signature Verified Successfully" in out.stdout


def test_it_matches_the_sm2_standard_example():
    key = sm2.PrivateKey(0x3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8)
    assert key.public.x == 0x09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020
    assert sm2.za(key.public).hex() == "b2e14c5c79c6df5b85f4fe7ed8db7a262b9da7e07ccb0ea9f4747b8ccda8a4f3"
    signature = key.sign(b"message digest")
    assert sm2.verify(key.public, b"message digest", signature)
    assert not sm2.verify(key.public, b"message digesT", signature)


def test_openssl_verifies_our_sm2_signatures_and_we_verify_openssls(tmp_path):
    key = sm2.PrivateKey.generate()
    message = "咸政发〔2026〕12号".encode()
    signature = key.sign(message)
    assert _openssl_verifies(tmp_path, key.public, message, signature)
    assert not _openssl_verifies(tmp_path, key.public, message + b".", signature)
    # the other way: OpenSSL signs with our key file, we verify
    (tmp_path / "key.pem").write_bytes(key.pem())
    (tmp_path / "msg").write_bytes(message)
    out = _openssl("pkeyutl", "-sign", "-rawin", "-digest", "sm3", "-inkey", "key.pem", "-in", "msg", "-out", "osig",
                   "-pkeyopt", DISTID, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert sm2.verify(key.public, message, (tmp_path / "osig").read_bytes())
    text = _openssl("pkey", "-in", "key.pem", "-noout", "-text", cwd=tmp_path).stdout
    assert "ASN1 OID: SM2" in text


@pytest.mark.django_db
def test_it_issues_sm2_seals_whose_certificates_chain_to_the_sm2_ca(tmp_path):
    seal = gm_seals.create_seal(9001, "咸阳市人民政府", code="11610400MB0000000X")
    (tmp_path / "ca.pem").write_bytes(sm2.certificate_pem(seal.ca_cert))
    (tmp_path / "unit.pem").write_bytes(sm2.certificate_pem(seal.cert))
    out = _openssl("verify", "-vfyopt", DISTID, "-CAfile", "ca.pem", "unit.pem", cwd=tmp_path)
    assert out.returncode == 0 and "unit.pem: OK" in out.stdout, out.stdout + out.stderr
    subject = _openssl("x509", "-in", "unit.pem", "-noout", "-subject", "-nameopt", "utf8", cwd=tmp_path).stdout
    assert "咸阳市人民政府" in subject
    # the SES_Seal: made by the CA (its signature over eSealInfo), naming the unit's certificate
    ses = SESeal.load(seal.seal)
    assert ses["seal_info"]["header"]["id"].native == "ES" and ses["seal_info"]["header"]["version"].native == 4
    assert ses["seal_info"]["property"]["name"].native == "咸阳市人民政府"
    assert ses["seal_info"]["property"]["cert_list"][0].native == seal.cert.dump()
    assert ses["seal_info"]["picture"]["data"].native[:8] == b"\x89PNG\r\n\x1a\n"
    maker = x509.Certificate.load(ses["cert"].native)
    assert _openssl_verifies(tmp_path, sm2.certificate_key(maker), ses["seal_info"].dump(),
                             ses["signed_value"].native)
    # kept like the other seals: the key is encrypted in the key storage and loads back
    again = gm_seals.load_seal(9001)
    assert again.key.d == seal.key.d and again.seal == seal.seal


@pytest.fixture
def sealed(db):
    doc = sample_doc(3, seals=[Seal("咸阳市人民政府", picture=None)])
    result = render_ofd(doc)
    seal = gm_seals.create_seal(9002, "咸阳市人民政府")
    box = result.seal_boxes[0]
    data = sign_ofd(result.ofd, LocalSM2Signer(seal), page=box.page, boundary_mm=seal_boundary_mm(box.box))
    return data, seal, box


def _files(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def test_it_writes_an_ses_signature_into_the_ofd_that_openssl_verifies(sealed, tmp_path):
    data, seal, box = sealed
    files = _files(data)
    assert b"<ofd:Signatures>Doc_0/Signs/Signatures.xml</ofd:Signatures>" in files["OFD.xml"]
    signatures = ET.fromstring(files["Doc_0/Signs/Signatures.xml"])
    entry = signatures.find("ofd:Signature", NS)
    assert entry.get("Type") == "Seal" and entry.get("BaseLoc") == "/Doc_0/Signs/Sign_0/Signature.xml"
    signature_xml = files["Doc_0/Signs/Sign_0/Signature.xml"]
    root = ET.fromstring(signature_xml)
    assert root.findtext("ofd:SignedInfo/ofd:SignatureMethod", namespaces=NS) == "1.2.156.10197.1.501"
    refs = root.find("ofd:SignedInfo/ofd:References", NS)
    assert refs.get("CheckMethod") == "1.2.156.10197.1.401"
    checked = {r.get("FileRef"): r.findtext("ofd:CheckValue", namespaces=NS) for r in refs}
    assert "/Doc_0/Pages/Page_0/Content.xml" in checked and "/OFD.xml" in checked
    import base64

    for ref, value in checked.items():  # SM3 by OpenSSL's dgst, not ours
        (tmp_path / "f").write_bytes(files[ref.lstrip("/")])
        digest = subprocess.run(["openssl", "dgst", "-sm3", "-binary", "f"], cwd=tmp_path, capture_output=True,
                                timeout=30)
        assert digest.returncode == 0 and base64.b64encode(digest.stdout).decode() == value, ref
    stamp = root.find("ofd:SignedInfo/ofd:StampAnnot", NS)
    x, y, w, h = (float(v) for v in stamp.get("Boundary").split())
    assert w == pytest.approx(42, abs=0.1) and h == pytest.approx(42, abs=0.1)
    assert (x, y) == pytest.approx(seal_boundary_mm(box.box)[:2], abs=0.01)
    # SignedValue.dat: an SES_Signature over SM3(Signature.xml), signed by the unit's SM2 key
    sig = SESSignature.load(files["Doc_0/Signs/Sign_0/SignedValue.dat"])
    assert sig["to_sign"]["data_hash"].native == sm2.sm3(signature_xml)
    assert sig["to_sign"]["property_info"].native == "/Doc_0/Signs/Sign_0/Signature.xml"
    assert sig["to_sign"]["eseal"].dump() == seal.seal
    signer = sm2.certificate_key(x509.Certificate.load(sig["cert"].native))
    assert _openssl_verifies(tmp_path, signer, sig["to_sign"].dump(), sig["signature"].native)
    report = verify_ofd(data)
    assert report.valid and not report.modified_after_signing, report
    assert report.signatures[0].organisation == "咸阳市人民政府" and report.signatures[0].trusted


def test_it_reports_a_one_byte_change_in_any_file_of_a_sealed_ofd(sealed):
    data, _seal, _box = sealed
    files = _files(data)
    for name, content in files.items():
        changed = dict(files)
        at = len(content) // 2
        changed[name] = content[:at] + bytes([content[at] ^ 0x01]) + content[at + 1:]
        report = verify_ofd(pack(changed))
        assert not report.valid, name
        assert report.modified_after_signing or any(not s.intact or not s.valid for s in report.signatures), name
    # a byte of the ZIP itself, and a file added after sealing
    raw = bytearray(data)
    raw[len(raw) // 3] ^= 0xFF
    assert not verify_ofd(bytes(raw)).valid
    added = dict(files, **{"Doc_0/Res/extra.png": b"\x89PNG"})
    report = verify_ofd(pack(added))
    assert not report.valid and report.modified_after_signing


@pytest.mark.django_db
def test_it_does_not_trust_a_seal_from_another_sm2_ca(sealed):
    data, _seal, _box = sealed
    with ca.namespace("stranger-seals"):
        theirs = gm_seals.create_seal(9003, "咸阳市人民政府")
    doc = render_ofd(sample_doc(1, seals=[Seal("咸阳市人民政府", picture=None)]))
    box = doc.seal_boxes[0]
    forged = sign_ofd(doc.ofd, LocalSM2Signer(theirs), page=box.page, boundary_mm=seal_boundary_mm(box.box))
    report = verify_ofd(forged)
    assert not report.valid and report.signatures[0].valid and not report.signatures[0].trusted


@pytest.mark.django_db
def test_a_remote_eseal_service_can_make_the_sm2_signature():
    service = FakeRemoteESealService()
    seal_id, token = service.enrol_sm2(gm_seals.create_seal(9004, "咸阳市人民政府"))
    doc = render_ofd(sample_doc(1, seals=[Seal("咸阳市人民政府", picture=None)]))
    box = doc.seal_boxes[0]
    signer = RemoteSM2Signer(service, seal_id, token=token, organ="咸阳市人民政府")
    data = sign_ofd(doc.ofd, signer, page=box.page, boundary_mm=seal_boundary_mm(box.box))
    assert verify_ofd(data).valid
    assert service.calls and service.calls[-1]["algorithm"] == "sm2-sm3"
    wrong = RemoteSM2Signer(service, seal_id, token="wrong", organ="咸阳市人民政府")
    with pytest.raises(SigningRefused):
        sign_ofd(doc.ofd, wrong, page=box.page, boundary_mm=seal_boundary_mm(box.box))
    assert hashlib.sha256(data).hexdigest()
