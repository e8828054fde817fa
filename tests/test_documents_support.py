"""Helpers shared by the tests of the 公文 flow (this module holds no tests itself)."""
import json

from documents import actions
from documents.models import Document
from office.models import Post

BODY = [{"kind": "p", "text": "为做好今冬明春防火工作，现将有关事项通知如下："},
        {"kind": "h1", "text": "一、提高认识"}, {"kind": "p", "text": "各单位要高度重视。"}]


def post_of(person):
    return Post.objects.active().filter(person_id=person.id).select_related("unit").first()


def draft(person, **data):
    data.setdefault("title", "关于做好冬季防火工作的通知")
    data.setdefault("doc_type", "通知")
    data.setdefault("body", BODY)
    return actions.do_create_document(person=person, post=post_of(person), data=data)


def sign_off(doc, secretary, *leaders, reviewers=(), countersign=()):
    actions.do_submit(person=secretary, post=post_of(secretary), doc=doc, signers=[post_of(x).id for x in leaders],
                      reviewers=[post_of(x).id for x in reviewers], countersign=list(countersign))
    doc.refresh_from_db()
    return doc


def approve_all(doc, *people):
    """Each person decides 'agree' on the steps waiting on them, in order, until the document is signed."""
    for _ in range(10):
        doc.refresh_from_db()
        steps = actions.active_steps(doc)
        if not steps:
            break
        for step in steps:
            for p in people:
                try:
                    actions.check_step_actor(p, step)
                except Exception:
                    continue
                actions.do_decide(person=p, step_id=step.id, decision="agree", opinion="同意")
                break
    doc.refresh_from_db()
    return doc


def dispatched(secretary, leader, **data):
    """A document drafted by `secretary`, signed off by `leader`, registered and dispatched."""
    doc = draft(secretary, **data)
    sign_off(doc, secretary, leader)
    approve_all(doc, leader)
    actions.do_register(person=secretary, post=post_of(secretary), doc=doc)
    actions.do_dispatch(person=secretary, post=post_of(secretary), doc=Document.objects.get(id=doc.id))
    return Document.objects.get(id=doc.id)


def call(client, method, url, data=None):
    kwargs = {}
    if data is not None:
        kwargs = {"data": json.dumps(data), "content_type": "application/json"}
    resp = getattr(client, method)(url, **kwargs)
    return resp.status_code, (resp.json() if resp.get("Content-Type", "").startswith("application/json") else resp.content)
