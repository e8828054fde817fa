"""What an approved outside reader (借阅) gets: every component either as a watermarked copy (name,
unit and time on every page: PDF, and OFD as a watermark layer of its own) or refused; a .docx
or any other format is never downloadable raw by an outside reader."""
import datetime as dt

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from documents.archive import actions, ofd, store
from documents.archive.models import AccessRequest, ComponentRole
from documents.signing.ofd_sign import verify_ofd
from tests.archive_support import isolated_files, with_fonds  # noqa: F401

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pytest.fixture
def lent(units, city_secretary, city_leader, archivist, outsider):
    from documents.files import actions as files
    from documents.models import Attachment, Document
    from tests.test_documents_support import dispatched, post_of

    with_fonds()
    doc = dispatched(city_secretary, city_leader, title="关于借阅水印测试的通知", main=[units["秦都区"].id])
    Attachment.objects.create(document=doc, name="附件1 统计表.docx", file=ContentFile(b"PK\x03\x04docx", name="a.docx"),
                              size=10, content_type=DOCX, uploaded_by=city_secretary)
    files.do_create_seal(person=city_secretary, unit=doc.unit)
    files.do_seal(person=city_secretary, document=Document.objects.get(id=doc.id))
    item = actions.do_file(person=city_secretary, post=post_of(city_secretary), document_id=doc.id)
    item = actions.do_accept(person=archivist, item_id=item.id)
    req = actions.do_request_access(person=outsider, item_id=item.id, reason="查阅依据",
                                    until=timezone.localdate() + dt.timedelta(days=3))
    actions.do_decide_access(person=city_leader, request_id=req.id, approve=True)
    return item


def _url(item, comp):
    return f"/documents/archive/items/{item.id}/components/{comp.id}/"


def test_an_outside_reader_gets_the_ofd_with_a_watermark_on_every_page(lent, outsider, archivist, client_for):
    comp = lent.components.get(role=ComponentRole.OFD)
    resp = client_for(outsider).get(_url(lent, comp))
    assert resp.status_code == 200 and resp["X-Watermarked"] == "1"
    info = ofd.read(resp.content)
    assert not info.problems and not info.font_problems, info.problems + info.font_problems
    assert info.pages == ofd.read(store.read(comp.storage_name)).pages
    for path in info.page_paths:
        page = info.files[path].decode()
        assert page.count("蒋秘书") >= 2 and "乾县人民政府" in page and 'Type="Foreground"' in page
    assert "关于借阅水印测试的通知" in info.text  # the document itself is still there
    assert not verify_ofd(resp.content).valid  # a reading copy: its seal does not vouch for it
    own = client_for(archivist).get(_url(lent, comp))
    assert own.content == store.read(comp.storage_name)  # the 全宗's people get the stored file


def test_an_outside_reader_cannot_download_a_docx_raw(lent, outsider, archivist, client_for):
    comp = lent.components.get(name="附件1 统计表.docx")
    c = client_for(outsider)
    resp = c.get(_url(lent, comp))
    assert resp.status_code == 403 and "只能在本单位查阅" in resp.content.decode()
    assert b"PK\x03\x04docx" not in resp.content
    page = c.get(f"/documents/archive/items/{lent.id}/").content.decode()
    assert "仅限本单位查阅" in page and _url(lent, comp) not in page
    assert _url(lent, lent.components.get(role=ComponentRole.OFD)) in page
    assert client_for(archivist).get(_url(lent, comp)).content == b"PK\x03\x04docx"


def test_every_component_an_outside_reader_can_open_is_watermarked(lent, outsider, client_for):
    c = client_for(outsider)
    assert AccessRequest.objects.filter(person=outsider, state="approved").exists()
    for comp in lent.components.all():
        resp = c.get(_url(lent, comp))
        if resp.status_code == 200:
            assert resp["X-Watermarked"] == "1", comp.name
            assert resp.content != store.read(comp.storage_name), comp.name
        else:
            assert resp.status_code == 403, comp.name


def test_the_watermarked_pdf_keeps_the_seal_picture_as_page_content_without_broken_signature_fields(
        lent, outsider, client_for):
    import io

    import pymupdf
    import pikepdf

    comp = next(c for c in lent.components.all() if c.name.endswith(".pdf") and b"/Sig" in store.read(c.storage_name))
    original = store.read(comp.storage_name)
    copy = client_for(outsider).get(_url(lent, comp)).content
    pdf = pikepdf.open(io.BytesIO(copy))
    assert "/AcroForm" not in pdf.Root
    assert not [a for p in pdf.pages for a in p.obj.get("/Annots", []) if a.get("/Subtype") == "/Widget"]

    def red_pixels(data):
        pix = pymupdf.open(stream=data, filetype="pdf")[0].get_pixmap(dpi=50)
        s = pix.samples
        return sum(1 for i in range(0, len(s), pix.n) if s[i] > 180 and s[i + 1] < 90 and s[i + 2] < 90)

    seal = red_pixels(original)
    assert seal > 50  # the original shows its red seal
    assert red_pixels(copy) >= seal * 0.8  # and so does the reading copy
