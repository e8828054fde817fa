"""Seals (CA, picture, certificate, key), PAdES signing with a visible stamp, verification."""
from __future__ import annotations

import io
import json
import os

import pikepdf
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from PIL import Image

from documents.render.model import Seal
from documents.render.pdf import render_pdf
from documents.render.samples import sample_doc
from documents.signing import ca
from documents.signing.pades import seal_document, sign_pdf, verify_pdf
from documents.signing.remote import FakeRemoteESealService, LocalSealSigner, RemoteESealSigner, SigningRefused


@pytest.fixture
def seals(db, monkeypatch):
    """Seals in the database (office/keyring.py), under a namespace of their own."""
    monkeypatch.setenv("YW_SEAL_PASSPHRASE", "test-passphrase")
    with ca.namespace("test-signing"):
        made = {
            "city": ca.create_seal(101, "咸阳市人民政府", keeper_id=7, code="610400000000"),
            "edu": ca.create_seal(102, "咸阳市教育局"),
            "fin": ca.create_seal(103, "咸阳市财政局"),
        }
        yield "test-signing", made


@pytest.fixture
def single_signed(seals):
    _root, made = seals
    doc = sample_doc(1, seals=[Seal("咸阳市人民政府")])
    result = render_pdf(doc)
    return result, seal_document(result, [LocalSealSigner(made["city"])], person_id=7, document_id=55)


def test_it_creates_an_organisational_ca_and_a_unit_seal_with_keys_encrypted_in_the_database(seals):
    from cryptography.hazmat.primitives import serialization

    from office.models import KeyMaterial

    ns, made = seals
    city = made["city"]
    stored = {m.name: m for m in KeyMaterial.objects.filter(name__startswith=f"{ns}/")}
    for name in ("101/key", "101/cert", "101/picture", "101/manifest", "ca/key", "ca/cert"):
        assert f"{ns}/{name}" in stored, name
    key_row = stored[f"{ns}/101/key"]
    plain = city.key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption())
    assert key_row.encrypted and key_row.wrapped_key and plain not in bytes(key_row.data)
    assert stored[f"{ns}/ca/key"].encrypted and not stored[f"{ns}/101/cert"].encrypted
    cert = x509.load_pem_x509_certificate(bytes(stored[f"{ns}/101/cert"].data))
    ca_cert = x509.load_pem_x509_certificate(bytes(stored[f"{ns}/ca/cert"].data))
    assert cert.issuer == ca_cert.subject
    ca_cert.public_key().verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(hashes.SHA256()))
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    assert cert.public_key().curve.name == "secp256r1"
    assert cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "咸阳市人民政府"
    manifest = json.loads(bytes(stored[f"{ns}/101/manifest"].data))
    assert manifest["keeper_id"] == 7 and manifest["sha256"] == cert.fingerprint(hashes.SHA256()).hex()
    loaded = ca.load_seal(101)
    assert loaded.cert == city.cert


def test_it_draws_a_red_round_seal_picture_with_transparent_corners(seals):
    _root, made = seals
    img = Image.open(io.BytesIO(made["city"].picture)).convert("RGBA")
    w, h = img.size
    assert w == h
    assert img.getpixel((2, 2))[3] == 0  # outside the ring
    centre = img.getpixel((w // 2, h // 2))  # the star
    assert centre[0] > 180 and centre[1] < 60 and centre[3] > 150
    reds = sum(1 for x in range(0, w, 3) for y in range(0, h // 3, 3)
               if (lambda p: p[3] > 100 and p[0] > 150 and p[1] < 80)(img.getpixel((x, y))))
    assert reds > 200  # the ring and the arced name in the upper third


def test_it_refuses_a_second_seal_for_the_same_unit(seals):
    with pytest.raises(ca.SealError, match="已有印章"):
        ca.create_seal(101, "咸阳市人民政府")


def test_it_refuses_a_seal_whose_picture_was_swapped(seals):
    from office import keyring

    ns, _made = seals
    ca.create_seal(199, "测试镇人民政府")
    keyring.put(f"{ns}/199/picture", ca.seal_picture("别的单位"))
    with pytest.raises(ca.SealError, match="印章图像与登记不符"):
        ca.load_seal(199)


def test_it_puts_the_visible_stamp_where_the_seal_goes(single_signed):
    result, signed = single_signed
    box = result.seal_boxes[0]
    pdf = pikepdf.open(io.BytesIO(signed))
    fields = pdf.Root.AcroForm.Fields
    assert len(fields) == 1
    widget = fields[0]
    rect = [float(v) for v in widget.Rect]
    assert rect == pytest.approx([round(v) for v in box.box], abs=1)
    page = pdf.pages[box.page]
    assert any(a.objgen == widget.objgen for a in page.obj.Annots)
    ap = widget.AP.N
    xobjects = list(ap.Resources.XObject.values())
    assert xobjects, "the stamp has no picture"
    # the picture is inside a form XObject or directly an image
    def has_image(xo):
        if xo.get("/Subtype") == "/Image":
            return True
        res = xo.get("/Resources")
        return bool(res and "/XObject" in res and any(has_image(x) for x in res.XObject.values()))
    assert any(has_image(x) for x in xobjects)


def test_it_verifies_a_signed_document_with_signer_and_time(single_signed):
    _result, signed = single_signed
    report = verify_pdf(signed)
    assert report.valid, report.message
    assert report.modified_after_signing is False
    sig = report.signatures[0]
    assert sig.organisation == "咸阳市人民政府"
    assert sig.signed_at and sig.signed_at.startswith("20")
    assert sig.intact and sig.valid and sig.trusted and sig.changes_after == "none"
    assert "签章有效" in report.message


def test_it_detects_one_byte_changed_anywhere(single_signed):
    _result, signed = single_signed
    n = len(signed)
    positions = set(range(0, n, max(1, n // 60)))
    positions |= {0, 9, n - 1, n - 2}
    # inside the signature value's zero padding, and inside the DER signature itself
    start = signed.rfind(b"/Contents <")
    end = signed.index(b">", start)
    positions |= {end - 1, end - 10, start + 12, start + 40}
    for pos in sorted(positions):
        tampered = bytearray(signed)
        tampered[pos] ^= 0x01
        report = verify_pdf(bytes(tampered))
        assert not report.valid, f"byte {pos} of {n} changed, not detected"
    report = verify_pdf(signed + b"\n% appended\n")
    assert not report.valid and report.modified_after_signing


def test_it_carries_every_co_issuers_signature_on_a_joint_document(seals):
    _root, made = seals
    result = render_pdf(sample_doc(2, joint=True))
    signed = seal_document(result, [LocalSealSigner(made[k]) for k in ("city", "edu", "fin")])
    report = verify_pdf(signed)
    assert report.valid, report.message
    assert [s.organisation for s in report.signatures] == ["咸阳市人民政府", "咸阳市教育局", "咸阳市财政局"]
    assert [s.changes_after for s in report.signatures] == ["signatures", "signatures", "none"]
    pdf = pikepdf.open(io.BytesIO(signed))
    rects = [[float(v) for v in f.Rect] for f in pdf.Root.AcroForm.Fields]
    for rect, box in zip(rects, result.seal_boxes, strict=True):
        assert rect == pytest.approx([round(v) for v in box.box], abs=1)


def test_it_logs_every_use_of_a_seal(seals, single_signed):
    log = ca.usage_log(101)
    assert any(e["person_id"] == 7 and e["document_id"] == 55 and e["sha256"] for e in log)
    before = len(log)
    seal_document(render_pdf(sample_doc(1, seals=[Seal("咸阳市人民政府")])), [LocalSealSigner(ca.load_seal(101))],
                  person_id=8, document_id=56)
    assert len(ca.usage_log(101)) == before + 1


def test_it_calls_a_signature_from_another_ca_untrusted(seals):
    with ca.namespace("stranger"):
        stranger = ca.create_seal(1, "咸阳市人民政府")  # same name, other CA
        result = render_pdf(sample_doc(1, seals=[Seal("咸阳市人民政府")]))
        signed = seal_document(result, [LocalSealSigner(stranger)])
    report = verify_pdf(signed)
    assert not report.valid
    assert report.signatures[0].intact and not report.signatures[0].trusted
    assert "组织CA" in report.message


def test_it_signs_through_a_remote_service_using_the_fake(seals):
    _root, made = seals
    service = FakeRemoteESealService()
    seal_id, token = service.enrol(made["edu"])
    signer = RemoteESealSigner(service, seal_id, token=token, organ="咸阳市教育局")
    result = render_pdf(sample_doc(1, seals=[Seal("咸阳市教育局")]))
    signed = seal_document(result, [signer])
    assert len(service.calls) == 1
    report = verify_pdf(signed)
    assert report.valid and report.signatures[0].organisation == "咸阳市教育局"
    bad = RemoteESealSigner(service, seal_id, token="wrong", organ="咸阳市教育局")
    with pytest.raises(SigningRefused, match="令牌无效"):
        sign_pdf(result.pdf, bad, page=0, box=(100, 100, 200, 200), field_name="x")


def test_it_says_plainly_when_a_file_is_not_a_signed_pdf(seals):
    assert verify_pdf(b"hello").message == "不是PDF文件"
    unsigned = render_pdf(sample_doc(1)).pdf
    report = verify_pdf(unsigned)
    assert not report.valid and "没有电子签章" in report.message
    broken = verify_pdf(b"%PDF-1.7\n" + os.urandom(2000))
    assert not broken.valid


@pytest.mark.django_db(transaction=True)
async def test_it_signs_and_verifies_from_inside_a_running_event_loop(seals, monkeypatch):
    # pyHanko inside a running loop is the point here; the 用印 log and the CA certificate are
    # read from the database, which Django allows in a loop only when told to.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    _ns, made = seals
    result = render_pdf(sample_doc(1, seals=[Seal("咸阳市人民政府")]))
    signed = seal_document(result, [LocalSealSigner(made["city"])])
    assert verify_pdf(signed).valid
