"""行文规则, exhaustively: every sender kind × every recipient relation × every 文种, at draft, at 签发
and at 核发 (a document that was legal and is now addressed elsewhere is stopped at each stage).

The expectations below are written from the reference (gongwen.md, Arts. 14–17, and issue 11),
not read from documents.rules: downward and directive documents go only to units under the
sender's authority (a government and its 办公室: its own departments and everything below it; a
department: within its own professional line); 请示 and 报告 go up one level to one unit; 函 goes
anywhere; 意见 takes the rules of the direction it goes; 越级 only with the skipped level copied.
"""
import pytest
from django.db import transaction
from django.utils import timezone

from documents import actions
from documents.models import Document, DocState, Step, StepKind
from documents.rules import RuleViolation

# The reference's directions, written out here on purpose (see the module docstring).
DOWN_TYPES = ("命令", "决定", "决议", "批复", "通知", "通报", "公告", "通告", "公报")
UP_TYPES = ("请示", "报告")
ACROSS_TYPES = ("函", "纪要", "议案")
OPINION = "意见"
ALL_TYPES = DOWN_TYPES + UP_TYPES + ACROSS_TYPES + (OPINION,)
assert len(ALL_TYPES) == 15

OK = "ok"
# Refusals by rule name.
SELF, AUTH, DEPT, UPONLY, SKIP = "no_self", "down_within_authority", "dept_no_directive", "upward_to_superior", "no_skip"

# (sender, recipient, relation as the issue names it, verdict for 下行文, for 上行文, for 意见,
#  the units a 越级 must copy).  A verdict is OK or the rule a refusal must name. 函, 纪要 and 议案
#  are allowed everywhere but to the sender itself.
ROWS = [
    # the city government
    ("咸阳市", "咸阳市", "self", SELF, SELF, SELF, ()),
    ("咸阳市", "市政府办", "own department (its 办公室)", OK, UPONLY, OK, ()),
    ("咸阳市", "市财政局", "own department (a bureau)", OK, UPONLY, OK, ()),
    ("咸阳市", "秦都区", "own subordinate", OK, UPONLY, OK, ()),
    ("咸阳市", "区财政局", "a subordinate government's bureau", OK, UPONLY, OK, ()),
    ("咸阳市", "人民路街道", "deeper subordinate (越级, county copied)", OK, UPONLY, OK, ("秦都区",)),
    ("咸阳市", "人民路社区", "deeper subordinate (越级, county and town copied)", OK, UPONLY, OK, ("秦都区", "人民路街道")),
    # the city's 办公室 (acts for the city government by authorisation)
    ("市政府办", "咸阳市", "own superior (its government)", AUTH, OK, OK, ()),
    ("市政府办", "市财政局", "a unit of the same government", OK, UPONLY, OK, ()),
    ("市政府办", "秦都区", "own subordinate (by authorisation)", OK, UPONLY, OK, ()),
    ("市政府办", "区政府办", "a subordinate government's office", OK, UPONLY, OK, ()),
    ("市政府办", "人民路社区", "deeper subordinate (越级)", OK, UPONLY, OK, ("秦都区", "人民路街道")),
    # a city bureau
    ("市财政局", "咸阳市", "own superior (its government)", AUTH, OK, OK, ()),
    ("市财政局", "市政府办", "own superior (its government's office)", AUTH, OK, OK, ()),
    ("市财政局", "市教育局", "a unit of the same government", AUTH, UPONLY, OK, ()),
    ("市财政局", "区财政局", "within its own line, one level down", OK, UPONLY, OK, ()),
    ("市财政局", "秦都区", "a lower government", DEPT, UPONLY, DEPT, ()),
    ("市财政局", "区政府办", "a lower government's office", DEPT, UPONLY, DEPT, ()),
    ("市财政局", "人民路街道", "a government two levels down", DEPT, UPONLY, DEPT, ()),
    ("市财政局", "乾县", "a lower government of another line", DEPT, UPONLY, DEPT, ()),
    # a county government
    ("秦都区", "秦都区", "self", SELF, SELF, SELF, ()),
    ("秦都区", "咸阳市", "own superior", AUTH, OK, OK, ()),
    ("秦都区", "市政府办", "own superior's office", AUTH, OK, OK, ()),
    ("秦都区", "市财政局", "the city's bureaus", AUTH, UPONLY, OK, ()),
    ("秦都区", "区财政局", "a unit of the same government", OK, UPONLY, OK, ()),
    ("秦都区", "人民路街道", "own subordinate", OK, UPONLY, OK, ()),
    ("秦都区", "北街村", "deeper subordinate (越级)", OK, UPONLY, OK, ("人民路街道",)),
    ("秦都区", "乾县", "a peer county", AUTH, UPONLY, OK, ()),
    ("秦都区", "城关街道", "a unit in another county", AUTH, UPONLY, OK, ()),
    ("秦都区", "东街社区", "a village in another county", AUTH, UPONLY, OK, ()),
    # a county's 办公室
    ("区政府办", "秦都区", "own superior (its government)", AUTH, OK, OK, ()),
    ("区政府办", "市政府办", "its line's superior (the city's office)", AUTH, OK, OK, ()),
    ("区政府办", "咸阳市", "superior's superior (越级, county copied)", AUTH, OK, OK, ("秦都区",)),
    ("区政府办", "区财政局", "a unit of the same government", OK, UPONLY, OK, ()),
    ("区政府办", "人民路街道", "own subordinate (by authorisation)", OK, UPONLY, OK, ()),
    ("区政府办", "薛录镇", "a unit in another county", AUTH, UPONLY, OK, ()),
    # a county bureau
    ("区财政局", "秦都区", "own superior (its government)", AUTH, OK, OK, ()),
    ("区财政局", "市财政局", "its line's superior", AUTH, OK, OK, ()),
    ("区财政局", "市教育局", "the city's bureaus (another line)", AUTH, UPONLY, OK, ()),
    ("区财政局", "咸阳市", "superior's superior (越级, its government copied)", AUTH, OK, OK, ("秦都区",)),
    ("区财政局", "人民路街道", "a lower government", DEPT, UPONLY, DEPT, ()),
    ("区财政局", "乾县", "a unit in another county", AUTH, UPONLY, OK, ()),
    # a town
    ("人民路街道", "人民路街道", "self", SELF, SELF, SELF, ()),
    ("人民路街道", "秦都区", "own superior", AUTH, OK, OK, ()),
    ("人民路街道", "区财政局", "own superior's bureau", AUTH, UPONLY, OK, ()),
    ("人民路街道", "咸阳市", "superior's superior (越级, county copied)", AUTH, OK, OK, ("秦都区",)),
    ("人民路街道", "市财政局", "the city's bureaus", AUTH, UPONLY, OK, ()),
    ("人民路街道", "北街村", "own subordinate", OK, UPONLY, OK, ()),
    ("人民路街道", "渭阳西路街道", "a peer in the same county", AUTH, UPONLY, OK, ()),
    ("人民路街道", "陈杨寨村", "a village of another town", AUTH, UPONLY, OK, ()),
    ("人民路街道", "乾县", "a county not its own", AUTH, UPONLY, OK, ()),
    ("人民路街道", "薛录镇", "a town in another county", AUTH, UPONLY, OK, ()),
    ("人民路街道", "东街社区", "a village in another county", AUTH, UPONLY, OK, ()),
    # a village
    ("人民路社区", "人民路社区", "self", SELF, SELF, SELF, ()),
    ("人民路社区", "人民路街道", "own superior", AUTH, OK, OK, ()),
    ("人民路社区", "秦都区", "superior's superior (越级, town copied)", AUTH, OK, OK, ("人民路街道",)),
    ("人民路社区", "咸阳市", "three levels up (越级, town and county copied)", AUTH, OK, OK, ("秦都区", "人民路街道")),
    ("人民路社区", "区财政局", "the county's bureaus", AUTH, UPONLY, OK, ()),
    ("人民路社区", "市财政局", "the city's bureaus", AUTH, UPONLY, OK, ()),
    ("人民路社区", "北街村", "a peer in the same town", AUTH, UPONLY, OK, ()),
    ("人民路社区", "西兰路社区", "a village of another town", AUTH, UPONLY, OK, ()),
    ("人民路社区", "渭阳西路街道", "another town of its county", AUTH, UPONLY, OK, ()),
    ("人民路社区", "东街社区", "a village in another county", AUTH, UPONLY, OK, ()),
]


def expected(row, doc_type):
    _s, _r, _rel, down, up, opinion, _skip = row
    if doc_type in DOWN_TYPES:
        return down
    if doc_type in UP_TYPES:
        return up
    if doc_type == OPINION:
        return opinion
    return SELF if down == SELF else OK


SENDER_KIND = {"咸阳市": "city", "市政府办": "city office", "市财政局": "city bureau", "秦都区": "county",
               "区政府办": "county office", "区财政局": "county bureau", "人民路街道": "town", "人民路社区": "village"}


def _row_id(row):
    return f"{SENDER_KIND[row[0]]} to {row[2]}"


BODY = [{"kind": "p", "text": "现将有关事项通知如下。"}]


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """The small organisation plus a drafter, a signer and a dispatcher in every sending unit,
    built once for the module and rolled back at its end."""
    from django.contrib.auth.hashers import make_password

    from office.models import Post
    from office.seed import Builder, build_small

    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            units, people = build_small()
            extra = Builder().people([
                ("mx_county_office", "矩阵区办文书", "文书", units["区政府办"], ("secretary",)),
                ("mx_county_bureau", "矩阵区财文书", "文书", units["区财政局"], ("secretary",)),
                ("mx_village_head", "矩阵村主任", "村主任", units["人民路社区"], ("leader",)),
            ], make_password("x"))
            secretary = {"咸阳市": people["city_secretary"], "市政府办": people["city_office_secretary"],
                         "市财政局": people["city_finance_secretary"], "秦都区": people["county_secretary"],
                         "区政府办": extra["mx_county_office"], "区财政局": extra["mx_county_bureau"],
                         "人民路街道": people["town_secretary"], "人民路社区": people["village_cadre"]}
            leader = {"咸阳市": people["city_leader"], "秦都区": people["county_leader"],
                      "人民路街道": people["town_leader"], "人民路社区": extra["mx_village_head"]}
            posts = {}
            for name, person in secretary.items():
                posts[name] = Post.objects.get(person=person, unit=units[name])
            signer_post = {}
            for name in secretary:
                gov = units[name].government.short_name
                signer_post[name] = Post.objects.get(person=leader[gov], unit=units[gov])
            yield {"units": units, "secretary": secretary, "post": posts, "signer": signer_post}
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


class Rollback(Exception):
    pass


def _verdict(call):
    """Run `call` in a savepoint that is always rolled back: OK, or the rule it was refused by."""
    result = OK
    try:
        with transaction.atomic():
            try:
                call()
            except RuleViolation as e:
                result = e.rule
            raise Rollback
    except Rollback:
        pass
    return result


def _readdress(doc, doc_type, main, cc):
    """What a document legal when checked could look like later (edited, units moved): the
    rows are changed directly, as no action would let them."""
    Document.objects.filter(id=doc.id).update(doc_type=doc_type)
    doc.main_recipients.set(main)
    doc.cc_recipients.set(cc)


def _legal_base(world, sender, state):
    """A 函 from `sender` to the city's 办公室 (legal from everyone but itself), taken to `state`."""
    units = world["units"]
    target = units["市财政局"] if sender == "市政府办" else units["市政府办"]
    doc = actions.do_create_document(person=world["secretary"][sender], post=world["post"][sender], data={
        "title": "关于有关事项的函", "doc_type": "函", "body": BODY, "main": [target.id]})
    if state == DocState.SIGNOFF:
        Step.objects.create(document=doc, round=1, order=1, kind=StepKind.SIGNOFF, post=world["signer"][sender])
        Document.objects.filter(id=doc.id).update(round=1, state=DocState.SIGNOFF)
    else:
        Document.objects.filter(id=doc.id).update(state=DocState.REGISTERED, number="矩阵〔2026〕1号",
                                                  registered_at=timezone.now())
    doc.refresh_from_db()
    return doc


def _cases(world, row):
    """(doc_type, main, cc, expected) for a row: every 文种, and for a 越级 row also without the copy."""
    units = world["units"]
    sender, recipient, *_rest, skip = row
    main = [units[recipient]]
    cc = [units[n] for n in skip]
    for doc_type in ALL_TYPES:
        want = expected(row, doc_type)
        yield doc_type, main, cc, want
        if skip and want == OK and (doc_type in DOWN_TYPES + UP_TYPES + (OPINION,)):
            yield doc_type, main, [], SKIP


def _title(doc_type):
    return f"关于有关事项的{doc_type}"


def _draft(world, sender, doc_type, main, cc):
    person, post = world["secretary"][sender], world["post"][sender]
    data = {"title": _title(doc_type), "doc_type": doc_type, "body": BODY,
            "main": [u.id for u in main], "cc": [u.id for u in cc]}
    if doc_type != "批复":
        return lambda: actions.do_create_document(person=person, post=post, data=data)
    # a 批复 is drafted in answer to a 请示; the addressing is checked when the draft is edited

    def edit():
        doc = actions.do_create_document(person=person, post=post, data={
            "title": "关于有关事项的函", "doc_type": "函", "body": BODY, "main": [world["units"]["市政府办" if sender != "市政府办" else "市财政局"].id]})
        actions.do_update_document(person=person, post=post, doc=doc, data={
            "doc_type": "批复", "title": _title("批复"), "main": data["main"], "cc": data["cc"]})
    return edit


def _mismatches(world, row, stage):
    sender = row[0]
    wrong = []
    base = None
    if stage == "signoff":
        base = _legal_base(world, sender, DocState.SIGNOFF)
        step = base.steps.get()
    elif stage == "dispatch":
        base = _legal_base(world, sender, DocState.REGISTERED)
    for doc_type, main, cc, want in _cases(world, row):
        if stage == "draft":
            got = _verdict(_draft(world, sender, doc_type, main, cc))
        elif stage == "signoff":
            def sign(doc_type=doc_type, main=main, cc=cc):
                _readdress(base, doc_type, main, cc)
                actions.do_decide(person=world["signer"][sender].person, step_id=step.id, decision="agree")
            got = _verdict(sign)
        else:
            def dispatch(doc_type=doc_type, main=main, cc=cc):
                _readdress(base, doc_type, main, cc)
                actions.do_dispatch(person=world["secretary"][sender], post=world["post"][sender], doc=base)
            got = _verdict(dispatch)
        if got != want:
            wrong.append(f"{doc_type} {'+抄送' if cc else ''}: expected {want}, got {got}")
    return wrong


@pytest.mark.parametrize("stage", ["draft", "signoff", "dispatch"])
@pytest.mark.parametrize("row", ROWS, ids=_row_id)
def test_it_allows_or_refuses_every_type_by_the_rule_table(world, row, stage, db):
    wrong = _mismatches(world, row, stage)
    assert not wrong, f"{row[0]} → {row[1]} ({row[2]}) at {stage}:\n" + "\n".join(wrong)
