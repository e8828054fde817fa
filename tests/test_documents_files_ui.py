"""The 公文-files parts of the pages: download links, 用印 button and state, Word import box, seal management."""
from __future__ import annotations

import re

import pytest

from documents import actions
from documents.signing import ca
from office.models import AuditEntry, Person, Post
from tests.test_documents_support import approve_all, dispatched, draft, post_of, sign_off


@pytest.fixture(autouse=True)
def isolated_files(tmp_path, monkeypatch, settings):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def _page(client, url):
    resp = client.get(url)
    assert resp.status_code == 200, resp.status_code
    return resp.content.decode()


def _files_section(html):
    m = re.search(r'<section class="card doc-files" id="doc-files".*?</section>', html, re.S)
    assert m, "the 公文文件 section is missing"
    return m.group(0)


def test_it_offers_pdf_word_and_verify_links_to_a_viewer_without_a_seal_button(city_secretary, city_leader,
                                                                               county_secretary, units, client_for):
    doc = dispatched(city_secretary, city_leader, main=[units["秦都区"].id])
    viewer = client_for(county_secretary)  # a recipient unit's secretary: may read, may not seal
    section = _files_section(_page(viewer, f"/documents/{doc.id}/"))
    assert f'href="/api/documents/files/{doc.id}/pdf"' in section and "下载PDF（GB/T 9704）" in section
    assert f'href="/api/documents/files/{doc.id}/docx"' in section and "下载Word" in section
    assert 'href="/documents/files/verify/"' in section
    assert "未用印" in section
    assert 'id="seal-doc"' not in section
    pdf = viewer.get(f"/api/documents/files/{doc.id}/pdf")
    assert pdf.status_code == 200 and pdf["X-Document-Sealed"] == "0"
    assert viewer.get(f"/api/documents/files/{doc.id}/docx").status_code == 200


def test_it_shows_the_seal_button_only_to_the_issuing_units_secretary_after_sign_off(
        city_secretary, city_office_secretary, city_leader, admin, county_secretary, units, client_for):
    doc = draft(city_secretary, main=[units["秦都区"].id])
    sec = client_for(city_secretary)
    assert 'id="seal-doc"' not in _files_section(_page(sec, f"/documents/{doc.id}/"))  # a draft: not yet
    sign_off(doc, city_secretary, city_leader)
    assert 'id="seal-doc"' not in _files_section(_page(sec, f"/documents/{doc.id}/"))  # waiting for 签发
    approve_all(doc, city_leader)
    section = _files_section(_page(sec, f"/documents/{doc.id}/"))
    assert 'id="seal-doc"' not in section  # no seal yet: nothing to press, only the way to make one
    assert "尚未制作电子印章" in section and 'href="/documents/files/seals/"' in section
    assert sec.post(f"/api/documents/files/seals/{doc.unit_id}").status_code == 201
    section = _files_section(_page(sec, f"/documents/{doc.id}/"))
    assert 'id="seal-doc"' in section and "用印" in section
    assert "建议先登记编号再用印" in section
    # the 办公室's secretary keeps the government's seal too; the leader and other units do not
    assert 'id="seal-doc"' in _files_section(_page(client_for(city_office_secretary), f"/documents/{doc.id}/"))
    assert 'id="seal-doc"' not in _files_section(_page(client_for(city_leader), f"/documents/{doc.id}/"))

    actions.do_register(person=city_secretary, post=post_of(city_secretary), doc=doc)
    section = _files_section(_page(sec, f"/documents/{doc.id}/"))
    assert "尚未制作电子印章" not in section and "建议先登记编号" not in section
    assert sec.post(f"/api/documents/files/{doc.id}/seal").status_code == 200
    section = _files_section(_page(sec, f"/documents/{doc.id}/"))
    assert "已用印" in section and "未用印" not in section
    assert 'id="seal-doc"' not in section
    assert "加盖电子印章的正式文件" in section


def test_it_keeps_a_departments_seal_with_its_own_secretary_not_the_government_office(
        city_finance_secretary, city_office_secretary, city_leader, units, client_for):
    doc = draft(city_finance_secretary, title="咸阳市财政局关于商请提供年度预算资料的函", doc_type="函",
                main=[units["市教育局"].id])
    sign_off(doc, city_finance_secretary, city_leader)
    approve_all(doc, city_leader)
    assert doc.state == "signed"
    assert client_for(city_finance_secretary).post(f"/api/documents/files/seals/{doc.unit_id}").status_code == 201
    own = _files_section(_page(client_for(city_finance_secretary), f"/documents/{doc.id}/"))
    assert 'id="seal-doc"' in own
    from documents.files.seals import files_context

    assert files_context(city_finance_secretary, doc)["can_seal"] is True
    assert files_context(city_office_secretary, doc)["keeper"] is False  # the 办公室 keeps the government's seal only
    assert files_context(city_office_secretary, doc)["can_seal"] is False
    assert client_for(city_office_secretary).post(f"/api/documents/files/{doc.id}/seal").status_code in (403, 404)


def test_it_shows_each_co_issuers_sealing_state_and_makes_the_co_issuer_wait_for_the_lead(
        city_secretary, city_leader, units, client_for):
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

    section = _files_section(_page(clerk, f"/documents/{doc.id}/"))
    assert 'id="seal-doc"' not in section and "须由主办机关（咸阳市人民政府）先用印" in section
    assert section.count("未用印") == 3  # the document, and each of the two issuers
    assert lead.post(f"/api/documents/files/{doc.id}/seal").json()["sealed"] is False

    section = _files_section(_page(clerk, f"/documents/{doc.id}/"))
    units_list = re.search(r'<ul class="seal-units".*?</ul>', section, re.S).group(0)
    assert re.search(r"咸阳市人民政府：<span class=\"tag ok\">已用印", units_list)
    assert re.search(r"咸阳市教育局：<span class=\"tag warn\">未用印", units_list)
    assert 'id="seal-doc"' in section
    assert 'id="seal-doc"' not in _files_section(_page(lead, f"/documents/{doc.id}/"))  # lead is done


def test_it_puts_a_word_import_box_on_the_drafting_page(city_secretary, client_for):
    html = _page(client_for(city_secretary), "/documents/new/")
    assert 'id="import-file"' in html and "导入Word" in html
    assert 'data-max-bytes="20971520"' in html
    assert "documents/import_docx.js" in html


def test_it_lets_a_secretary_make_the_units_seal_on_the_seals_page(city_secretary, client_for):
    client = client_for(city_secretary)
    unit_id = post_of(city_secretary).unit_id
    html = _page(client, "/documents/files/seals/")
    assert "电子印章管理" in html and f'id="create-seal-{unit_id}"' in html and "未制作" in html
    assert 'id="nav-verify"' in html and 'id="nav-seals"' in html
    resp = client.post("/documents/files/seals/", {"unit": unit_id})
    assert resp.status_code == 302
    assert ca.has_seal(unit_id)
    assert AuditEntry.objects.filter(action="seal.create").count() == 1
    html = _page(client, "/documents/files/seals/")
    assert f'src="/api/documents/files/seals/{unit_id}/picture.png"' in html
    assert f'id="create-seal-{unit_id}"' not in html and "已制作" in html
    assert client.get(f"/api/documents/files/seals/{unit_id}/picture.png")["Content-Type"] == "image/png"
    again = client.post("/documents/files/seals/", {"unit": unit_id})
    assert again.status_code == 409 and "已有电子印章" in again.content.decode()
    assert AuditEntry.objects.filter(action="seal.create").count() == 1


def test_it_refuses_seal_making_to_others_with_a_chinese_message(city_leader, city_secretary, units, client_for):
    client = client_for(city_leader)
    html = _page(client, "/documents/files/seals/")
    assert "只有单位的文秘人员或系统管理员可以管理电子印章" in html
    city_id = post_of(city_secretary).unit_id
    resp = client.post("/documents/files/seals/", {"unit": city_id})
    assert resp.status_code == 403 and "只有本单位的文秘人员或系统管理员可以制作印章" in resp.content.decode()
    assert not ca.has_seal(city_id)
    assert client.post("/documents/files/seals/", {"unit": "abc"}).status_code == 404


def test_it_lets_an_administrator_find_any_unit_and_make_its_seal(admin, units, client_for):
    client = client_for(admin)
    village = units["北街村"]
    html = _page(client, "/documents/files/seals/?q=北街")
    assert f'id="create-seal-{village.id}"' in html
    assert client.post("/documents/files/seals/", {"unit": village.id}).status_code == 302
    assert ca.has_seal(village.id)


def test_it_links_the_verify_page_from_the_documents_pages(city_leader, client_for):
    html = _page(client_for(city_leader), "/documents/")
    assert 'href="/documents/files/verify/"' in html and "核验签章" in html
    assert 'id="nav-seals"' not in html  # the leader keeps no seal


def test_it_no_longer_counts_a_sealed_file_once_the_text_or_number_changed(city_secretary, city_leader, units,
                                                                           client_for):
    import io

    import pdfplumber

    doc = draft(city_secretary, main=[units["秦都区"].id])
    sign_off(doc, city_secretary, city_leader)
    approve_all(doc, city_leader)
    sec = client_for(city_secretary)
    assert sec.post(f"/api/documents/files/seals/{doc.unit_id}").status_code == 201
    assert sec.post(f"/api/documents/files/{doc.id}/seal").status_code == 200  # sealed before 登记
    assert sec.get(f"/api/documents/files/{doc.id}/pdf")["X-Document-Sealed"] == "1"

    # changed after sealing: back to the signer, signed again → the old sealed file is not the issued one
    actions.do_update_document(person=city_secretary, post=post_of(city_secretary), doc=doc,
                               data={"remark": "此件公开发布"})
    approve_all(doc, city_leader)
    assert doc.state == "signed"
    assert sec.get(f"/api/documents/files/{doc.id}/pdf")["X-Document-Sealed"] == "0"
    section = _files_section(_page(sec, f"/documents/{doc.id}/"))
    assert "未用印" in section and 'id="seal-doc"' in section
    assert sec.post(f"/api/documents/files/{doc.id}/seal").status_code == 200

    # registered after sealing: the file has no 发文字号, so it must be sealed again
    doc = actions.do_register(person=city_secretary, post=post_of(city_secretary), doc=doc)
    assert sec.get(f"/api/documents/files/{doc.id}/pdf")["X-Document-Sealed"] == "0"
    assert 'id="seal-doc"' in _files_section(_page(sec, f"/documents/{doc.id}/"))
    assert sec.post(f"/api/documents/files/{doc.id}/seal").status_code == 200
    issued = sec.get(f"/api/documents/files/{doc.id}/pdf")
    assert issued["X-Document-Sealed"] == "1"
    with pdfplumber.open(io.BytesIO(issued.content)) as pdf:
        text = "".join((p.extract_text() or "") for p in pdf.pages).replace("\n", "").replace(" ", "")
    assert doc.number.replace(" ", "") in text
    assert sec.post(f"/api/documents/files/{doc.id}/seal").status_code == 409  # once per issued text
