"""四性 checks: each kind of failure is found and named (档号, component, check)."""
import io

import pytest
from django.core.management import call_command

from documents.archive import actions, checks, jobs, store
from documents.archive.models import ComponentRole, FixityAlert, FixityCursor, Item
from office.models import AuditEntry
from tests.archive_support import filed_sent, flip_stored_byte, isolated_files, with_fonds  # noqa: F401


@pytest.fixture
def accepted(units, city_secretary, city_leader, archivist):
    with_fonds()
    item = filed_sent(city_secretary, city_leader, title="关于四性检测的通知", main=[units["秦都区"].id])
    return actions.do_accept(person=archivist, item_id=item.id)


_flip_byte = flip_stored_byte


def _failed(item):
    ok, results = checks.check_item(item)
    return ok, {(r["check"], r["component"]) for r in results if not r["ok"]}


def test_it_passes_a_sound_item(accepted):
    ok, failed = _failed(accepted)
    assert ok and not failed


def test_it_reports_a_changed_byte_with_the_archival_code_and_component(accepted):
    comp = accepted.components.get(role=ComponentRole.ORIGINAL)
    _flip_byte(comp.storage_name)
    ok, failed = _failed(accepted)
    assert not ok and ("fixity", "正本.pdf") in failed
    out = io.StringIO()
    with pytest.raises(SystemExit) as exc:
        call_command("archive_check", "--all", "--quick", stdout=out)
    assert exc.value.code == 1
    assert f"{accepted.archival_code} 正本.pdf: fixity" in out.getvalue()


def test_it_reports_a_missing_component(accepted):
    comp = accepted.components.get(role=ComponentRole.FINAL)
    store.delete(comp.storage_name)
    ok, failed = _failed(accepted)
    assert not ok and ("components", comp.name) in failed


def test_it_reports_a_broken_signature(units, city_secretary, city_leader, archivist):
    from documents.files import actions as files
    from documents.models import Document
    from tests.test_documents_support import dispatched, post_of

    with_fonds()
    doc = dispatched(city_secretary, city_leader, title="关于签章检测的通知", main=[units["秦都区"].id])
    files.do_create_seal(person=city_secretary, unit=doc.unit)
    files.do_seal(person=city_secretary, document=Document.objects.get(id=doc.id))
    item = actions.do_file(person=city_secretary, post=post_of(city_secretary), document_id=doc.id)
    item = actions.do_accept(person=archivist, item_id=item.id)
    comp = item.components.get(role=ComponentRole.ORIGINAL)
    data = store.read(comp.storage_name)
    # A byte of the header's comment line: inside the first signed byte range (which always starts
    # at 0), yet the file still parses, so only the signature check can catch it. (Page content
    # streams are compressed, so searching them for "BT" only worked by chance.)
    at = data.index(b"\n%", 5) + 3
    assert at < data.index(b"/ByteRange")
    _flip_byte(comp.storage_name, at=at)
    ok, failed = _failed(item)
    assert ("signature", "正本.pdf") in failed


def test_it_reports_a_gap_in_the_item_numbers(accepted, units, city_secretary, city_leader, archivist):
    second = filed_sent(city_secretary, city_leader, title="关于第二件检测的通知", main=[units["秦都区"].id])
    second = actions.do_accept(person=archivist, item_id=second.id)
    Item.objects.filter(id=second.id).update(seq=3)  # a row tampered with in the database
    ok, failed = _failed(Item.objects.get(id=accepted.id))
    assert not ok and ("sequence", "") in failed


def test_it_refuses_to_file_a_pdf_with_javascript(units, city_secretary, city_leader):
    import pikepdf
    from django.core.files.base import ContentFile

    from documents.models import Attachment
    from office.errors import ActionError
    from tests.test_documents_support import dispatched, post_of

    with_fonds()
    doc = dispatched(city_secretary, city_leader, title="关于附件检测的通知", main=[units["秦都区"].id])
    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.Root.OpenAction = pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert(1)"))
    buf = io.BytesIO()
    pdf.save(buf)
    Attachment.objects.create(document=doc, name="evil.pdf", file=ContentFile(buf.getvalue(), name="evil.pdf"),
                              size=len(buf.getvalue()), content_type="application/pdf", uploaded_by=city_secretary)
    with pytest.raises(ActionError) as exc:
        actions.do_file(person=city_secretary, post=post_of(city_secretary), document_id=doc.id)
    assert exc.value.status == 422 and "evil.pdf" in exc.value.message and "JavaScript" in exc.value.message
    assert not Item.objects.filter(document=doc).exists()


def test_the_periodic_job_finds_a_changed_byte_in_chunks_and_alerts(accepted, settings):
    settings.ARCHIVE_FIXITY_INTERVAL_HOURS = 0
    comp = accepted.components.get(role=ComponentRole.FINAL)
    _flip_byte(comp.storage_name)
    total = accepted.components.count()
    first = jobs.verify_fixity(limit=1)
    assert first["checked"] == 1 and not first["done"]
    assert FixityCursor.objects.get().last_component_id > 0  # resumes here after a restart
    while True:
        r = jobs.verify_fixity(limit=1)
        if r["done"]:
            break
    assert r["checked"] == total and r["failures"] == 1
    alert = FixityAlert.objects.get()
    assert alert.component_id == comp.id and alert.item_id == accepted.id
    assert AuditEntry.objects.filter(action="archive.fixity", data__code=accepted.archival_code).exists()
