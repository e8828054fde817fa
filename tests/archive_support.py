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
