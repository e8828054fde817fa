"""公文 files through the API and the verification page: downloads, import, 用印, verification."""
from __future__ import annotations

import io
import zipfile

import pdfplumber
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from docx import Document as Docx

from documents.models import Document
from documents.render.docx import export_docx
from documents.render.samples import sample_doc
from office.models import AuditEntry
from tests.test_documents_support import dispatched, draft, post_of

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pytest.fixture(autouse=True)
def isolated_files(tmp_path, monkeypatch, settings):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def _upload(client, url, data: bytes, name: str, content_type="application/octet-stream"):
    return client.post(url, {"file": SimpleUploadedFile(name, data, content_type=content_type)})


def test_it_downloads_the_pdf_for_those_who_may_see_it_only(county_secretary, outsider, client_for):
    doc = draft(county_secretary, title="关于做好冬季防火工作的通知")
    resp = client_for(county_secretary).get(f"/api/documents/files/{doc.id}/pdf")
    assert resp.status_code == 200 and resp["Content-Type"] == "application/pdf"
    assert resp["X-Document-Sealed"] == "0"
    assert "filename*=UTF-8''" in resp["Content-Disposition"]
    with pdfplumber.open(io.BytesIO(resp.content)) as pdf:
        text = "".join((p.extract_text() or "") for p in pdf.pages).replace("\n", "")
    assert "关于做好冬季防火工作的通知" in text
    assert post_of(county_secretary).unit.name in text
    denied = client_for(outsider).get(f"/api/documents/files/{doc.id}/pdf")
    assert denied.status_code == 404 and "无权" in denied.json()["detail"]
    assert Client().get(f"/api/documents/files/{doc.id}/pdf").status_code == 401


def test_it_exports_the_document_as_docx(county_secretary, outsider, client_for):
    doc = draft(county_secretary, title="关于做好冬季防火工作的通知")
    resp = client_for(county_secretary).get(f"/api/documents/files/{doc.id}/docx")
    assert resp.status_code == 200 and resp["Content-Type"] == DOCX_TYPE
    d = Docx(io.BytesIO(resp.content))
    texts = [p.text for p in d.paragraphs]
    assert "一、提高认识" in texts
    assert client_for(outsider).get(f"/api/documents/files/{doc.id}/docx").status_code == 404


def test_it_imports_a_docx_draft_into_editable_fields_and_saves_nothing(county_secretary, client_for):
    before = Document.objects.count()
    resp = _upload(client_for(county_secretary), "/api/documents/files/import-docx",
                   export_docx(sample_doc(2)), "草稿.docx", DOCX_TYPE)
    assert resp.status_code == 200, resp.content
    body = resp.json()
    fields = body["fields"]
    assert fields["title"] == sample_doc(2).title
    assert fields["doc_type"] == "通知"
    kinds = {b["kind"] for b in fields["body"]}
    assert {"h1", "h2", "h3", "p"} <= kinds
    assert fields["attachment_notes"] == ["一网协同平台建设任务分工表", "各县区联系人名单"]
    assert any("格式" in line for line in body["report"])
    assert Document.objects.count() == before


@pytest.mark.parametrize("name,data,expect,status", [
    ("草稿.docx", "不是压缩包".encode() * 50, "不是ZIP", 400),
    ("草稿.docm", b"PK\x03\x04" + bytes(100), ".docm", 400),
    ("草稿.pdf", b"%PDF-1.4", "只能导入", 400),
])
def test_it_refuses_hostile_or_wrong_files_with_a_chinese_message(county_secretary, client_for, name, data, expect,
                                                                  status):
    before = Document.objects.count()
    resp = _upload(client_for(county_secretary), "/api/documents/files/import-docx", data, name)
    assert resp.status_code == status
    assert expect in resp.json()["detail"]
    assert Document.objects.count() == before


def test_it_refuses_macros_and_classified_drafts_at_import(county_secretary, client_for):
    client = client_for(county_secretary)
    good = export_docx(sample_doc(1))
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good)) as src, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            out.writestr(info.filename, src.read(info))
        out.writestr("word/vbaProject.bin", b"\xd0\xcf\x11\xe0" + bytes(64))
    resp = _upload(client, "/api/documents/files/import-docx", buf.getvalue(), "带宏.docx")
    assert resp.status_code == 400 and "宏" in resp.json()["detail"]
    secret = Docx()
    secret.add_paragraph("机密★1年")
    secret.add_paragraph("关于某事项的通知")
    out = io.BytesIO()
    secret.save(out)
    resp = _upload(client, "/api/documents/files/import-docx", out.getvalue(), "来文.docx")
    assert resp.status_code == 400 and "机要" in resp.json()["detail"]


def test_it_seals_a_signed_document_and_anyone_can_verify_it(city_secretary, city_leader, units, client_for):
    doc = dispatched(city_secretary, city_leader, title="关于做好冬季防火工作的通知", main=[units["秦都区"].id])
    client = client_for(city_secretary)
    unit_id = doc.unit_id
    created = client.post(f"/api/documents/files/seals/{unit_id}")
    assert created.status_code == 201, created.content
    assert client.post(f"/api/documents/files/seals/{unit_id}").status_code == 409
    assert client.get(f"/api/documents/files/seals/{unit_id}/picture.png")["Content-Type"] == "image/png"
    sealed = client.post(f"/api/documents/files/{doc.id}/seal")
    assert sealed.status_code == 200, sealed.content
    assert AuditEntry.objects.filter(action="document.seal").count() == 1
    assert client.post(f"/api/documents/files/{doc.id}/seal").status_code == 409  # once only
    pdf = client.get(f"/api/documents/files/{doc.id}/pdf")
    assert pdf["X-Document-Sealed"] == "1"

    anyone = Client()
    ok = _upload(anyone, "/api/documents/files/verify", pdf.content, "正式文件.pdf", "application/pdf")
    assert ok.status_code == 200
    report = ok.json()
    assert report["valid"] is True and report["modified_after_signing"] is False
    assert report["signatures"][0]["organisation"] == doc.unit.name
    assert report["signatures"][0]["signed_at"]

    tampered = bytearray(pdf.content)
    tampered[len(tampered) // 3] ^= 0x01
    bad = _upload(anyone, "/api/documents/files/verify", bytes(tampered), "x.pdf", "application/pdf").json()
    assert bad["valid"] is False

    page = _upload(anyone, "/documents/files/verify/", pdf.content, "正式文件.pdf", "application/pdf")
    assert page.status_code == 200
    html = page.content.decode()
    assert "签章有效" in html and doc.unit.name in html
    page = _upload(anyone, "/documents/files/verify/", bytes(tampered), "x.pdf", "application/pdf")
    assert "签章无效" in page.content.decode()
    assert anyone.get("/documents/files/verify/").status_code == 200


def test_it_refuses_to_seal_before_sign_off_or_by_others(city_secretary, city_leader, outsider, units, client_for):
    doc = draft(city_secretary)
    assert client_for(city_leader).post(f"/api/documents/files/seals/{doc.unit_id}").status_code == 403
    assert client_for(city_secretary).post(f"/api/documents/files/seals/{doc.unit_id}").status_code == 201
    early = client_for(city_secretary).post(f"/api/documents/files/{doc.id}/seal")
    assert early.status_code == 409 and "签发" in early.json()["detail"]
    assert client_for(outsider).post(f"/api/documents/files/{doc.id}/seal").status_code == 404
    done = dispatched(city_secretary, city_leader, main=[units["秦都区"].id])
    by_leader = client_for(city_leader).post(f"/api/documents/files/{done.id}/seal")
    assert by_leader.status_code == 403 and "印章保管人" in by_leader.json()["detail"]


def test_it_says_plainly_what_is_wrong_with_a_verification_upload(client_for, county_secretary):
    anyone = Client()
    resp = _upload(anyone, "/api/documents/files/verify", b"hello", "a.pdf")
    assert resp.status_code == 400 and resp.json()["detail"] == "不是PDF或OFD文件。"
    unsigned = client_for(county_secretary).get(f"/api/documents/files/{draft(county_secretary).id}/pdf").content
    report = _upload(anyone, "/api/documents/files/verify", unsigned, "a.pdf").json()
    assert report["valid"] is False and "没有电子签章" in report["message"]


def test_it_has_each_co_issuer_apply_its_own_seal_lead_unit_first(city_secretary, city_leader, units, client_for):
    from documents import actions
    from office.models import Person, Post
    from tests.test_documents_support import approve_all, sign_off

    edu = units["市教育局"]
    edu_head = Person.objects.create_user("edu_head", "x", display_name="教育局局长")
    Post.objects.create(person=edu_head, unit=edu, title="局长", is_leader=True)
    edu_clerk = Person.objects.create_user("edu_clerk", "x", display_name="教育局文书")
    Post.objects.create(person=edu_clerk, unit=edu, title="文书", is_secretary=True)
    doc = draft(city_secretary, title="关于联合开展校园安全检查的通知", main=[units["秦都区"].id], co_issuers=[edu.id])
    sign_off(doc, city_secretary, city_leader)
    approve_all(doc, city_leader, edu_head)
    actions.do_register(person=city_secretary, post=post_of(city_secretary), doc=doc)
    lead, clerk = client_for(city_secretary), client_for(edu_clerk)
    assert lead.post(f"/api/documents/files/seals/{doc.unit_id}").status_code == 201
    assert clerk.post(f"/api/documents/files/seals/{edu.id}").status_code == 201

    early = clerk.post(f"/api/documents/files/{doc.id}/seal")
    assert early.status_code == 409 and "主办机关先用印" in early.json()["detail"]
    first = lead.post(f"/api/documents/files/{doc.id}/seal")
    assert first.status_code == 200 and first.json()["sealed"] is False
    assert [u["sealed"] for u in first.json()["units"]] == [True, False]
    assert lead.get(f"/api/documents/files/{doc.id}/pdf")["X-Document-Sealed"] == "0"  # not issued yet
    again = lead.post(f"/api/documents/files/{doc.id}/seal")
    assert again.status_code == 409 and "等待其他" in again.json()["detail"]
    second = clerk.post(f"/api/documents/files/{doc.id}/seal")
    assert second.status_code == 200 and second.json()["sealed"] is True

    issued = lead.get(f"/api/documents/files/{doc.id}/pdf")
    assert issued["X-Document-Sealed"] == "1"
    report = _upload(Client(), "/api/documents/files/verify", issued.content, "joint.pdf").json()
    assert report["valid"] is True, report["message"]
    assert [s["organisation"] for s in report["signatures"]] == [doc.unit.name, edu.name]
    from documents.signing import ca
    assert ca.usage_log(edu.id)[-1]["person_id"] == edu_clerk.id
    assert ca.usage_log(doc.unit_id)[-1]["person_id"] == city_secretary.id
