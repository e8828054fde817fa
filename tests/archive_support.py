"""Helpers shared by the archive tests (this module holds no tests itself)."""
import pytest

from documents import actions as flow
from documents.archive import actions, assemble
from documents.models import Receipt
from office.models import Post
from tests.test_documents_support import dispatched, post_of


def with_fonds():
    assemble.ensure_fonds()


def make_archivist(person, unit):
    """Give `person` an archivist post in `unit` (a town's 档案员 for the trip)."""
    post, _created = Post.objects.get_or_create(person=person, unit=unit, defaults={"title": "档案员"})
    Post.objects.filter(id=post.id).update(is_archivist=True)
    return Post.objects.get(id=post.id)


def finished_receipt(sender, leader, receiver, unit, **data):
    """A document sent by `sender` to `unit`, signed, registered and finished there by `receiver`."""
    data.setdefault("main", [unit.id])
    doc = dispatched(sender, leader, **data)
    r = Receipt.objects.get(document=doc, unit=unit)
    p = post_of(receiver)
    flow.do_sign(person=receiver, post=p, receipt_id=r.id)
    flow.do_register_receipt(person=receiver, post=p, receipt_id=r.id)
    flow.do_propose(person=receiver, post=p, receipt_id=r.id, text="拟请分管领导阅示")
    flow.do_finish(person=receiver, post=p, receipt_id=r.id, note="已按要求办理")
    return Receipt.objects.get(id=r.id)


def filed_received(sender, leader, receiver, unit, **data):
    r = finished_receipt(sender, leader, receiver, unit, **data)
    return actions.do_file(person=receiver, post=post_of(receiver), receipt_id=r.id)


def filed_sent(secretary, leader, **data):
    doc = dispatched(secretary, leader, **data)
    return actions.do_file(person=secretary, post=post_of(secretary), document_id=doc.id)


@pytest.fixture(autouse=True)
def isolated_files(tmp_path, monkeypatch, settings):
    """Each test stores its files and seals apart (ids restart with every test database)."""
    monkeypatch.setenv("YW_SEAL_DIR", str(tmp_path / "seals"))
    settings.MEDIA_ROOT = str(tmp_path / "media")


def accepted_sealed(secretary, leader, archivist, main_units, **data):
    """A document dispatched, sealed (PAdES PDF and SM2 OFD), filed and accepted: its 件 holds
    正本.pdf and 正本.ofd, both with seals."""
    from documents.files import actions as files
    from documents.models import Document

    with_fonds()
    doc = dispatched(secretary, leader, main=[u.id for u in main_units], **data)
    files.do_create_seal(person=secretary, unit=doc.unit)
    files.do_seal(person=secretary, document=Document.objects.get(id=doc.id))
    item = actions.do_file(person=secretary, post=post_of(secretary), document_id=doc.id)
    return actions.do_accept(person=archivist, item_id=item.id)


def flip_stored_byte(name, at=None):
    """Change one bit of a stored component in place (as rot or tampering would)."""
    from documents.archive import store

    data = bytearray(store.read(name))
    at = len(data) // 2 if at is None else at
    data[at] ^= 0x01
    store.delete(name)
    assert store.put(name, bytes(data)) == name


def rewrite_ofd_member(data: bytes, member: str, change) -> bytes:
    """The OFD package with one member's bytes passed through `change` (the ZIP stays well formed)."""
    import io
    import zipfile

    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info)
            dst.writestr(info, change(body) if info.filename == member else body)
    return out.getvalue()
