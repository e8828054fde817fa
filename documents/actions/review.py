"""审核, 会签, 签发: the steps of a round and their decisions."""

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from documents import rules
from documents.actions.common import _ev, _name, _notify_active_steps, _secretary_post, _text, MAX_OPINION
from documents.actions.drafting import _save_version, check_document_routing
from documents.models import Decision, DocState, Document, Step, StepKind, StepState
from documents.queries.visibility import active_steps, check_can_view, person_posts
from office import audit
from office.errors import ActionError
from office.events import send_event
from office.models import Delegation, Post, Unit


def _leader_posts_of(unit):
    gov = unit.government
    return Post.objects.active().filter(Q(unit_id=gov.id) | Q(unit__parent_id=gov.id), is_leader=True)


def check_submit(person, post, doc, *, reviewers, countersign, signers):
    if doc.state not in (DocState.DRAFT, DocState.RETURNED):
        raise ActionError(_("公文当前状态为“%(s)s”，不能送审。") % {"s": doc.get_state_display()}, status=409)
    if doc.drafted_by_id != person.id and _secretary_post(person, doc.unit, post, include_office=True) is None:
        raise ActionError(_("只有起草人或本单位秘书可以送审。"), status=403)
    if not doc.main_recipients.exists():
        raise ActionError(_("请先选择主送机关。"))
    check_document_routing(doc)
    co = list(doc.co_issuers.all())
    if not doc.body:
        raise ActionError(_("正文不能为空。"))
    if not signers:
        raise ActionError(_("请选择签发人。"))
    signer_posts = list(Post.objects.active().filter(id__in=signers).select_related("unit", "person"))
    if len(signer_posts) != len(set(signers)):
        raise ActionError(_("签发人不存在或已离岗。"))
    issuers = [doc.unit.government, *[u.government for u in co]]
    for p in signer_posts:
        if not p.is_leader:
            raise ActionError(_("%(n)s不是领导岗位，不能签发。") % {"n": _name(p.person)})
        if p.unit.government.id not in {u.id for u in issuers}:
            raise ActionError(_("%(n)s不是发文机关的领导，不能签发。") % {"n": _name(p.person)})
    missing = [u for u in issuers if u.id not in {p.unit.government.id for p in signer_posts}]
    if missing:
        raise ActionError(_("联合行文须由每个发文机关的负责人签发，缺少：%(u)s") % {"u": "、".join(u.name for u in missing)})
    reviewer_posts = list(Post.objects.active().filter(id__in=reviewers or []).select_related("unit", "person"))
    if len(reviewer_posts) != len(set(reviewers or [])):
        raise ActionError(_("审核人不存在或已离岗。"))
    for p in reviewer_posts:
        if p.unit.government.id != doc.unit.government.id:
            raise ActionError(_("审核人须是本机关的人员。"))
    cs_units = list(Unit.objects.filter(id__in=countersign or [], dissolved_at__isnull=True))
    if len(cs_units) != len(set(countersign or [])):
        raise ActionError(_("会签单位不存在或已撤销。"))
    for u in cs_units:
        if u.id == doc.unit_id:
            raise ActionError(_("会签单位不能是起草单位本身。"))
    return signer_posts, reviewer_posts, cs_units


@transaction.atomic
def do_submit(*, person, post, doc, reviewers=(), countersign=(), countersign_mode="parallel", signers=(), ip=None):
    """送审: lay out this round's steps (审核 → 会签 → 签发) and start the first."""
    doc = Document.objects.select_for_update().get(id=doc.id)
    if countersign_mode not in ("parallel", "sequential"):
        raise ActionError(_("会签方式只能是并行或依次。"))
    signer_posts, reviewer_posts, cs_units = check_submit(person, post, doc, reviewers=list(reviewers),
                                                          countersign=list(countersign), signers=list(signers))
    doc.round += 1
    order = 0
    steps = []
    if reviewer_posts:
        order += 1
        steps += [Step(document=doc, round=doc.round, order=order, kind=StepKind.REVIEW, post=p) for p in reviewer_posts]
    if cs_units:
        if countersign_mode == "parallel":
            order += 1
        for u in cs_units:
            if countersign_mode == "sequential":
                order += 1
            steps.append(Step(document=doc, round=doc.round, order=order, kind=StepKind.COUNTERSIGN, unit=u))
    order += 1
    steps += [Step(document=doc, round=doc.round, order=order, kind=StepKind.SIGNOFF, post=p) for p in signer_posts]
    Step.objects.bulk_create(steps)
    doc.state = _state_for(steps[0].kind)
    doc.updated_at = timezone.now()
    doc.save(update_fields=["round", "state", "updated_at"])
    audit.record("document.submit", person=person, post=post, obj=doc, ip=ip,
                 data={"round": doc.round, "reviewers": [p.id for p in reviewer_posts],
                       "countersign": [u.id for u in cs_units], "signers": [p.id for p in signer_posts]})
    _notify_active_steps(doc)
    send_event(_ev("changed", doc.id), units=[doc.unit_id])
    return doc


def _state_for(kind):
    return {StepKind.REVIEW: DocState.REVIEW, StepKind.COUNTERSIGN: DocState.COUNTERSIGN,
            StepKind.SIGNOFF: DocState.SIGNOFF}[kind]


def check_step_actor(person, step):
    """Returns (acting post, post acted for or None)."""
    posts = person_posts(person)
    if step.post_id:
        mine = next((p for p in posts if p.id == step.post_id), None)
        if mine is not None:
            return mine, None
        delegation = Delegation.objects.filter(
            from_post_id=step.post_id, to_post__in=[p.id for p in posts], starts_at__lte=timezone.now(),
            ends_at__gt=timezone.now(), revoked_at__isnull=True).select_related("to_post", "from_post__person").first()
        if delegation is not None:
            return delegation.to_post, delegation.from_post
        raise ActionError(_("这一环节不由您办理。"), status=403)
    mine = next((p for p in posts if p.unit_id == step.unit_id and (p.is_leader or p.is_secretary)), None)
    if mine is None:
        raise ActionError(_("只有%(u)s的负责人或秘书可以会签。") % {"u": step.unit.name}, status=403)
    return mine, None


@transaction.atomic
def do_decide(*, person, step_id, decision, opinion="", ip=None):
    """审核 / 会签 / 签发: agree, agree with an opinion, or return for changes."""
    step = Step.objects.select_related("document", "post__person", "unit").filter(id=step_id).first()
    if step is None:
        raise ActionError(_("没有找到该办理环节。"), status=404)
    check_can_view(person, step.document)
    doc = Document.objects.select_for_update().get(id=step.document_id)
    step = Step.objects.select_for_update(of=("self",)).select_related("post__person", "unit").get(id=step.id)
    acting_post, for_post = check_step_actor(person, step)
    if decision not in Decision.values:
        raise ActionError(_("办理意见只能是同意、原则同意（附意见）或退回修改。"))
    opinion = _text(opinion, _("意见"), MAX_OPINION)
    rules.check_unclassified(**{str(_("意见")): opinion})
    if step.state != StepState.PENDING or step.round != doc.round:
        raise ActionError(_("这一环节已经办理过了。"), status=409)
    if step.id not in {s.id for s in active_steps(doc)}:
        raise ActionError(_("还没有轮到这一环节，请等前面的环节办理完毕。"), status=409)
    if decision in (Decision.RETURN, Decision.AGREE_WITH_OPINION) and not opinion:
        raise ActionError(_("退回或附意见时请填写意见。"))
    if step.kind == StepKind.SIGNOFF and decision != Decision.RETURN:
        check_document_routing(doc)  # 签发 signs only a document that may go where it is addressed
    now = timezone.now()
    step.decision = decision
    step.opinion = opinion or (_("同意") if decision == Decision.AGREE else "")
    step.acted_by = person
    step.acted_post = acting_post
    step.acted_name = _name(person)
    step.acted_at = now
    if for_post is not None:
        step.acted_for_post = for_post
        step.acted_for_name = _name(for_post.person)
    if decision == Decision.RETURN:
        step.state = StepState.RETURNED
        step.save()
        doc.steps.filter(round=doc.round, state=StepState.PENDING).update(state=StepState.CANCELLED)
        doc.state = DocState.RETURNED
        send_event(_ev("returned", doc.id), people=[doc.drafted_by_id])
    else:
        step.state = StepState.DONE
        step.save()
        remaining = active_steps(doc)
        if remaining:
            doc.state = _state_for(remaining[0].kind)
            _notify_active_steps(doc)
        else:
            _finalise(doc, person)
            send_event(_ev("signed", doc.id), people=[doc.drafted_by_id])
    doc.updated_at = now
    doc.save()
    audit.record(f"document.{step.kind}", person=person, post=acting_post, obj=doc, ip=ip,
                 data={"step": step.id, "decision": decision, "opinion": step.opinion,
                       "acting_for": for_post.id if for_post else None})
    send_event(_ev("changed", doc.id), units=[doc.unit_id])
    return step


def _finalise(doc, person):
    """签发 complete: the text is frozen as the 定稿; 成文日期 is the last signature's date."""
    signoffs = list(doc.steps.filter(round=doc.round, kind=StepKind.SIGNOFF, state=StepState.DONE)
                    .order_by("acted_at"))
    doc.signer_names = [
        (f"{s.acted_name}（代{s.acted_for_name}）" if s.acted_for_name else s.acted_name) for s in signoffs]
    doc.signed_at = timezone.localdate(signoffs[-1].acted_at)
    doc.state = DocState.SIGNED
    _save_version(doc, person, reason=_("签发定稿"), final=True)
