"""Demo 公文 for `make run`: a few documents in different states, through the real actions."""
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.db import transaction

from documents import actions
from documents.models import Document, Receipt
from office.models import Person, Unit, UnitKind

BODY = [{"kind": "p", "text": "为切实做好今冬明春森林草原防灭火工作，现将有关事项通知如下："},
        {"kind": "h1", "text": "一、提高思想认识"}, {"kind": "p", "text": "各单位要把防灭火工作摆上重要位置。"},
        {"kind": "h1", "text": "二、压实工作责任"}, {"kind": "p", "text": "严格落实属地管理责任，确保不发生重大火情。"}]


class Command(BaseCommand):
    help = gettext_lazy("示例公文：起草、签发、分发、签收等不同状态的几件公文（已有公文时不重复创建）。")

    def add_arguments(self, parser):
        parser.add_argument("--if-empty", action="store_true", help=_("已有公文时什么也不做"))

    def handle(self, *args, if_empty, **options):
        if if_empty and Document.objects.exists():
            self.stdout.write(_("已有公文，未创建示例公文。"))
            return
        try:
            sec = Person.objects.get(username="city_secretary")
            leader = Person.objects.get(username="city_leader")
        except Person.DoesNotExist:
            raise CommandError(_("请先运行 seed_demo 创建组织机构和演示账号。")) from None
        sec_post = actions.person_posts(sec)[0]
        city = Unit.objects.get(kind=UnitKind.CITY)
        county = Unit.objects.filter(parent=city, kind=UnitKind.COUNTY).order_by("path").first()
        with transaction.atomic():
            draft = actions.do_create_document(person=sec, post=sec_post, data={
                "title": f"{city.name}关于开展安全生产大检查的通知", "doc_type": "通知", "body": BODY,
                "main": [f"under:{city.id}:county"]})
            sent = actions.do_create_document(person=sec, post=sec_post, data={
                "title": f"{city.name}关于做好冬季森林草原防灭火工作的通知", "doc_type": "通知", "urgency": "加急",
                "body": BODY, "main": [f"under:{county.id}:town"], "add_skipped_cc": True,
                "remark": "联系人：王秘书，电话：029-33210000"})
            actions.do_submit(person=sec, post=sec_post, doc=sent, signers=[actions.person_posts(leader)[0].id])
            step = actions.active_steps(Document.objects.get(id=sent.id))[0]
            actions.do_decide(person=leader, step_id=step.id, decision="agree", opinion="同意印发")
            sent = actions.do_register(person=sec, post=sec_post, doc=Document.objects.get(id=sent.id))
            dispatch = actions.do_dispatch(person=sec, post=sec_post, doc=sent)
            town_sec = Person.objects.filter(username="town_secretary").first()
            if town_sec is not None:
                receipt = Receipt.objects.filter(document=sent, unit__posts__person=town_sec).first()
                if receipt is not None:
                    actions.do_sign(person=town_sec, post=actions.person_posts(town_sec)[0], receipt_id=receipt.id)
            if town_sec is not None:  # one waiting in every village of the demo town
                town = actions.person_posts(town_sec)[0].unit
                to_villages = actions.do_create_document(person=sec, post=sec_post, data={
                    "title": f"{city.name}关于开展农村人居环境整治培训的通知", "doc_type": "通知", "body": BODY,
                    "main": [f"under:{town.id}:village"], "add_skipped_cc": True})
                actions.do_submit(person=sec, post=sec_post, doc=to_villages,
                                  signers=[actions.person_posts(leader)[0].id])
                step = actions.active_steps(Document.objects.get(id=to_villages.id))[0]
                actions.do_decide(person=leader, step_id=step.id, decision="agree", opinion="同意")
                to_villages = actions.do_register(person=sec, post=sec_post, doc=Document.objects.get(id=to_villages.id))
                actions.do_dispatch(person=sec, post=sec_post, doc=to_villages)
        self.stdout.write(_("已创建示例公文：草稿 #%(draft)d；%(number)s 已分发至 %(n)d 个单位。")
                          % {"draft": draft.id, "number": sent.number, "n": dispatch.recipient_count})
