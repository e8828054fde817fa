"""A small world of objects owned by 秦都区 (the county), for the fuzzer and the persona matrix.

A 通知 dispatched by the county to 人民路街道 (with its receipt, an 承办 and a 传阅), a draft with
an attachment and review steps, a meeting of the county's own with an invitation, a material, a
recording and a question (问答), a filed archive item (件) with its component and a 四性 check run,
and the county's seal. build_world() names a real id for every path parameter the URL patterns use;
each object's private text is listed in SECRETS so that a test can check no outsider ever receives it.
(This module holds no tests itself.)"""
import datetime

from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from tests.meetings_support import schedule
from tests.test_documents_support import dispatched, draft, post_of, sign_off

DOC_TITLE = "关于秦都区内部核查甲乙丙事项的通知"
DRAFT_TITLE = "关于秦都区内部草拟丁戊事项的通知"
ATTACHMENT = "秦都区内部核查名单己庚.txt"
MEETING_TITLE = "秦都区内部辛壬专题会议"
ARCHIVED_TITLE = "关于秦都区内部归档癸子事项的通知"
QUESTION = "秦都区内部丑寅事项的补助标准是多少？"
SECRETS = (DOC_TITLE, DRAFT_TITLE, "内部核查名单己庚", MEETING_TITLE, ARCHIVED_TITLE, QUESTION)


def build_world(units, people):
    from documents import actions
    from documents.models import Assignment, Circulation, Receipt, Step
    from meetings.models import Invitation, Material, Recording

    county_secretary, county_leader = people["county_secretary"], people["county_leader"]
    town = units["人民路街道"]
    doc = dispatched(county_secretary, county_leader, title=DOC_TITLE, main=[town.id])
    receipt = Receipt.objects.get(document=doc, unit=town)
    town_leader = people["town_leader"]
    assignment = Assignment.objects.create(receipt=receipt, person=town_leader, assigned_by=town_leader,
                                           deadline=timezone.now() + datetime.timedelta(days=3), note="核查")
    circulation = Circulation.objects.create(receipt=receipt, person=town_leader, post=post_of(town_leader), order=1)

    paper = draft(county_secretary, title=DRAFT_TITLE, main=[town.id])
    actions.do_add_attachment(person=county_secretary, post=post_of(county_secretary), doc=paper,
                              upload=SimpleUploadedFile(ATTACHMENT, "名单".encode(), content_type="text/plain"))
    sign_off(paper, county_secretary, county_leader)
    attachment = paper.attachments.get()
    step = Step.objects.filter(document=paper).first()

    meeting = schedule(county_secretary, title=MEETING_TITLE, unit_ids=[units["区财政局"].id],
                       start_in=datetime.timedelta(hours=2))
    invitation = Invitation.objects.filter(meeting=meeting).first()
    material = Material(meeting=meeting, name="秦都区内部会议材料.txt", size=2, uploaded_by=county_secretary)
    material.file.save("material.txt", ContentFile(b"ok"), save=False)
    material.save()
    recording = Recording.objects.create(meeting=meeting, path="recordings/none.webm", recorded_by=county_secretary)
    from meetings.training.models import Question

    question = Question.objects.create(meeting=meeting, person=county_leader, person_name="周区长", text=QUESTION)

    from documents.archive import actions as archive, assemble
    from documents.archive.checks import run_checks
    from documents.archive.models import CheckStage

    assemble.ensure_fonds()
    filed = dispatched(county_secretary, county_leader, title=ARCHIVED_TITLE, main=[town.id])
    item = archive.do_file(person=county_secretary, post=post_of(county_secretary), document_id=filed.id)
    check_run = run_checks([item], CheckStage.MANUAL, person=county_secretary)
    import datetime as dt

    from documents.archive.models import AccessRequest, Disposal

    borrow = AccessRequest.objects.create(item=item, person=county_secretary, person_name="吴秘书",
                                          unit_name="秦都区人民政府", reason="查阅", until=dt.date(2099, 1, 1))
    disposal = Disposal.objects.create(item=item, action="destroy", reason="到期", proposed_by=county_secretary,
                                       proposed_name="吴秘书")
    from documents.files import actions as file_actions

    county = units["秦都区"]
    file_actions.do_create_seal(person=county_secretary, unit=county)  # its picture is the county's alone
    from django.template.loader import render_to_string

    from documents import queries, webfonts

    # The on-screen paper's body face, at the URL the document page gives its readers.
    on_screen = render_to_string("documents/_paper.html", {"d": queries.document_detail(doc, county_secretary)})
    face_url = next(f["url"] for f in webfonts.faces_for(doc.id, on_screen) if f["role"] == "fangsong")
    font_role, font_digest = face_url.rsplit("/", 1)[1].removesuffix(".woff2").split(".")

    from documents.archive.models import FixityAlert

    alert = FixityAlert.objects.create(component=item.components.first(), item=item, problem="校验值不符（测试）")
    return {
        "doc_id": doc.id, "att_id": attachment.id, "step_id": step.id, "receipt_id": receipt.id,
        "assignment_id": assignment.id, "circulation_id": circulation.id, "unit_id": units["秦都区"].id,
        "meeting_id": meeting.id, "invitation_id": invitation.id, "material_id": material.id,
        "recording_id": recording.id, "question_id": question.id, "item_id": item.id, "component_id": item.components.first().id,
        "run_id": check_run.id, "request_id": borrow.id, "disposal_id": disposal.id,
        "alert_id": alert.id, "code": item.fonds.code,  # the county's 全宗 (its settings and holdings)
        "role": font_role, "digest": font_digest,  # a subset web font of the document's paper
        "person_id": county_secretary.id,  # the administration pages' person (office/urls_admin.py)
        # a path parameter that names the draft (with the attachment and steps) instead
        "_draft_id": paper.id,
        # the county's 全宗 (pages and operations that take it as ?fonds= or in a body)
        "_fonds": item.fonds.code, "_year": item.year,
        "_town": town.id, "_town_secretary": people["town_secretary"].id,
    }


def snapshot():
    """The state of every object in the world, to show that nothing was changed by outsiders."""
    from documents.models import Assignment, Circulation, Document, Receipt, Step
    from documents.archive.models import AccessRequest, Disposal, FixityAlert, Fonds, Item, UnitSetting
    from meetings.models import Attendance, Invitation, Meeting, Question
    from office.models import AuditEntry

    return {
        "documents": list(Document.objects.order_by("id").values_list("id", "state", "title", "number")),
        "receipts": list(Receipt.objects.order_by("id").values_list("id", "state")),
        "steps": list(Step.objects.order_by("id").values_list("id", "state", "decision")),
        "assignments": list(Assignment.objects.order_by("id").values_list("id", "done_at")),
        "circulations": list(Circulation.objects.order_by("id").values_list("id", "read_at")),
        "meetings": list(Meeting.objects.order_by("id").values_list("id", "state", "title", "starts_at")),
        "invitations": list(Invitation.objects.order_by("id").values_list("id", "unit_id", "person_id")),
        "attendance": list(Attendance.objects.order_by("id").values_list("id", "person_id", "left_at")),
        "items": list(Item.objects.order_by("id").values_list("id", "state", "title")),
        "unit_settings": list(UnitSetting.objects.order_by("id").values_list("unit_id", "fonds_id",
                                                                              "request_with_reply")),
        "access_requests": list(AccessRequest.objects.order_by("id").values_list("id", "state")),
        "disposals": list(Disposal.objects.order_by("id").values_list("id", "state")),
        "alerts": list(FixityAlert.objects.order_by("id").values_list("id", "resolved_at")),
        "fonds": list(Fonds.objects.order_by("id").values_list("id", "code", "name", "unit_id")),
        "seals_made": AuditEntry.objects.filter(action="seal.create").count(),
        "questions": list(Question.objects.order_by("id").values_list("id", "text", "answer", "answered_at")),
    }
