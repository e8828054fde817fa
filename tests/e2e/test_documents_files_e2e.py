"""In a real Chromium: a secretary imports a Word draft into the drafting form; a signed-off notice is
sealed through the 用印 button, its PDF downloads as the sealed file and verifies on the verify page."""
import io
import re

import pytest
from docx import Document as Docx

from documents.models import Document
from documents.render.docx import export_docx
from documents.render.samples import sample_doc
from tests.conftest import login
from tests.test_documents_support import dispatched

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pytest.fixture
def files_server(server_factory, tmp_path):
    """A daphne of its own whose issued files live in this test's folder (seals: in the database)."""
    return server_factory(env={"MEDIA_ROOT": str(tmp_path / "media"),
                               "YW_SEAL_PASSPHRASE": "e2e-files"})


def test_it_imports_a_word_draft_into_the_drafting_form_and_refuses_a_classified_one(seed_small, files_server,
                                                                                      new_page):
    units, people = seed_small
    base = files_server.url
    rdoc = sample_doc(2)
    rdoc.recipients = ["秦都区人民政府", "乾县人民政府"]
    rdoc.cc = ["咸阳市财政局", "市委各部门"]
    word = export_docx(rdoc)

    page = new_page(width=360, height=740)
    login(page, base, "city_secretary")
    page.goto(base + "/documents/new/")
    page.set_input_files("#import-file", files=[{"name": "草稿.docx", "mimeType": DOCX, "buffer": word}])
    page.click("#import-docx")
    page.wait_for_function("document.getElementById('title').value.length > 0")
    assert page.input_value("#title") == rdoc.title
    assert page.input_value("#doc_type") == "通知"
    body = page.input_value("#body")
    assert "一、总体要求" in body and "（一）明确目标。" in body
    assert page.input_value("[name=remark]") == rdoc.note
    assert page.input_value("[name=attachment_notes]").splitlines() == list(rdoc.attachments)
    assert page.locator("#main-list").inner_text().count("×") == 2
    assert "秦都区人民政府" in page.locator("#main-list").inner_text()
    assert "咸阳市财政局" in page.locator("#cc-list").inner_text()
    report = page.locator("#import-report").inner_text()
    assert "格式未保留" in report
    assert "市委各部门" in report  # a 抄送 name that is no unit here is reported, not dropped silently
    assert "已导入" in page.locator("#import-summary").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360

    page.click("#save-draft")
    page.wait_for_url(re.compile(r"/documents/\d+/$"))
    doc = Document.objects.get(title=rdoc.title)
    assert sorted(doc.main_recipients.values_list("short_name", flat=True)) == ["乾县", "秦都区"]

    # a classified draft is refused, with the Chinese message, and nothing is filled in
    secret = Docx()
    secret.add_paragraph("机密★1年")
    secret.add_paragraph("关于某事项的通知")
    out = io.BytesIO()
    secret.save(out)
    page.goto(base + "/documents/new/")
    page.set_input_files("#import-file", files=[{"name": "来文.docx", "mimeType": DOCX, "buffer": out.getvalue()}])
    page.click("#import-docx")
    page.locator("#import-error").wait_for()
    assert "机要" in page.locator("#import-error").inner_text()
    assert page.input_value("#title") == ""
    page.set_input_files("#import-file", files=[{"name": "坏文件.docx", "mimeType": DOCX, "buffer": b"not a zip" * 20}])
    page.click("#import-docx")
    page.wait_for_function("document.getElementById('import-error').textContent.includes('ZIP')")


def test_it_seals_a_signed_off_notice_through_the_button_and_the_download_verifies(seed_small, files_server,
                                                                                   new_page, tmp_path):
    units, people = seed_small
    base = files_server.url
    doc = dispatched(people["city_secretary"], people["city_leader"], title="咸阳市人民政府关于做好冬季防火工作的通知",
                     main=[units["秦都区"].id])
    city_id = doc.unit_id

    # a leader of the unit reads it: downloads and the verify link, but no 用印 button
    leader = new_page(width=360, height=740)
    login(leader, base, "city_leader")
    leader.goto(f"{base}/documents/{doc.id}/")
    assert leader.locator("#download-pdf").is_visible() and leader.locator("#download-docx").is_visible()
    assert leader.locator("#seal-doc").count() == 0
    assert leader.locator("#seal-state").inner_text() == "未用印"
    assert leader.evaluate("document.documentElement.scrollWidth") <= 360

    sec = new_page()
    login(sec, base, "city_secretary")
    sec.goto(f"{base}/documents/{doc.id}/")
    assert sec.locator("#seal-state").inner_text() == "未用印"
    # no seal yet: no 用印 button; the page says which seal to make
    assert sec.locator("#seal-doc").count() == 0
    assert "尚未制作电子印章" in sec.locator("#seal-missing").inner_text()

    # 制作印章 on the seals page (reached from the detail page), with its picture
    sec.click("#seal-missing a")
    sec.wait_for_url(re.compile(r"/documents/files/seals/$"))
    sec.click(f"#create-seal-{city_id}")
    sec.locator(f"#seal-img-{city_id}").wait_for()
    sec.wait_for_function(f"document.getElementById('seal-img-{city_id}').naturalWidth > 0")
    assert sec.locator(f"#seal-state-{city_id}").inner_text() == "已制作"

    # 用印 through the button
    sec.goto(f"{base}/documents/{doc.id}/")
    sec.evaluate("window.__noReload = true")
    sec.click("#seal-doc")
    sec.wait_for_function("document.getElementById('seal-state').textContent.trim() === '已用印'", timeout=60000)
    assert "用印完成" in sec.locator("#seal-result").inner_text()
    assert sec.locator("#seal-doc").count() == 0
    assert sec.evaluate("window.__noReload") is True

    # the PDF downloads as the sealed file
    with sec.expect_download() as info:
        sec.click("#download-pdf")
    pdf = (tmp_path / "downloaded.pdf")
    info.value.save_as(pdf)
    assert info.value.suggested_filename.endswith(".pdf")
    direct = sec.request.get(f"{base}/api/documents/files/{doc.id}/pdf")
    assert direct.headers["x-document-sealed"] == "1"
    assert direct.body() == pdf.read_bytes()

    # and verifies as valid on the verify page, reached through its link
    sec.click("#verify-link")
    sec.wait_for_url(re.compile(r"/documents/files/verify/$"))
    sec.set_input_files("#verify-file", str(pdf))
    sec.click("#verify-form button[type=submit]")
    sec.locator("#verify-result").wait_for()
    result = sec.locator("#verify-result").inner_text()
    assert "签章有效" in result and "咸阳市人民政府" in result
    assert sec.locator("#verify-modified").inner_text() == "否"

    # the leader's open page shows the new state too (live refresh on the event)
    leader.wait_for_function("document.getElementById('seal-state').textContent.trim() === '已用印'", timeout=15000)
