"""The 密级 guard fails closed on a PDF it cannot read, and reads uploads in place, not into memory."""
import io
import os
import tracemalloc

import pikepdf
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile

from documents.classified import ClassifiedRefused, UnreadableRefused, check_not_classified
from tests.test_classified_guard import BODY, _pdf
from tests.test_documents_support import draft, post_of


def _temporary_upload(data, name):
    upload = TemporaryUploadedFile(name, "application/pdf", len(data), None)
    upload.write(data)
    upload.flush()
    return upload


class NoWholeReads(io.BytesIO):
    """A file object that refuses to be read whole (read() without a size)."""

    def read(self, size=-1):
        assert size is not None and size >= 0, "the guard read the whole upload into memory"
        return super().read(size)


def test_it_refuses_a_pdf_it_cannot_parse_with_a_clear_message():
    broken = b"%PDF-1.7\n" + os.urandom(4000)
    with pytest.raises(UnreadableRefused) as exc:
        check_not_classified(broken, "来文.pdf")
    assert "无法读取该PDF文件" in exc.value.message and exc.value.status == 400


@pytest.mark.django_db
def test_it_refuses_an_unreadable_pdf_attachment_through_the_api(units, county_secretary, client_for):
    doc = draft(county_secretary)
    upload = SimpleUploadedFile("附件.pdf", b"%PDF-1.4\n" + b"garbage " * 500, content_type="application/pdf")
    r = client_for(county_secretary).post(f"/api/documents/{doc.id}/attachments", {"file": upload})
    assert r.status_code == 400 and "无法读取该PDF文件" in r.json()["detail"]
    assert not doc.attachments.exists()


def test_it_reads_a_file_object_in_pieces_not_whole():
    marked = _pdf(["机密★1年"], BODY)
    with pytest.raises(ClassifiedRefused):
        check_not_classified(NoWholeReads(marked), "来文.pdf")
    check_not_classified(NoWholeReads(_pdf(["特急"], BODY)), "来文.pdf")


def test_it_checks_a_large_upload_from_its_temporary_file_without_copying_it(tmp_path):
    pdf = pikepdf.open(io.BytesIO(_pdf(["秘密"], BODY)))
    pdf.Root.Padding = pdf.make_stream(b"\0" * (30 * 1024 * 1024))  # a 30 MB file, as scanned annexes are
    out = io.BytesIO()
    pdf.save(out, compress_streams=False)
    data = out.getvalue()
    assert len(data) > 30 * 1024 * 1024
    upload = _temporary_upload(data, "扫描件.pdf")
    del data, out, pdf
    tracemalloc.start()
    try:
        with pytest.raises(ClassifiedRefused):
            check_not_classified(upload, "扫描件.pdf")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        upload.close()
    assert peak < 10 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB while checking a 30 MB upload"
