"""Demo archive for `make run`: every 全宗 gets a code, and a few finished 公文 are filed,
accepted and checked through the real actions, so the archive page is populated at once."""
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from documents import actions as flow
from documents.archive import actions, assemble, checks
from documents.archive.models import CheckStage, Fonds, Item, ItemState
from documents.models import DocState, Document, Receipt, ReceiptState
from office.models import Person, Post, Unit, UnitKind

BODY = [{"kind": "p", "text": "为规范全市公文归档工作，现将有关事项决定如下："},
        {"kind": "h1", "text": "一、归档范围"}, {"kind": "p", "text": "各单位办理完毕的公文均应及时归档。"}]


def seed_fonds_codes() -> int:
    """全宗号 for every unit that has one in the directory, and for each town (its county's code
    plus a two-digit number); villages go into their town's 全宗."""
    made = assemble.ensure_fonds()
    taken = set(Fonds.objects.values_list("code", flat=True))
    for county in Unit.objects.filter(kind=UnitKind.COUNTY).order_by("path"):
        base = county.fonds_no or (Fonds.objects.filter(unit=county).values_list("code", flat=True).first() or "")
        if not base:
            continue
        n = 0
        for town in Unit.objects.filter(parent=county, kind=UnitKind.TOWN).order_by("code", "id"):
            n += 1
            if Fonds.objects.filter(unit=town).exists() or town.fonds_no:
                continue
            code = f"{base}{n:02d}"
            while code in taken:
                code += "A"
            Fonds.objects.create(code=code, name=town.name, unit=town)
            taken.add(code)
            made += 1
    return made


class Command(BaseCommand):
    help = gettext_lazy("示例档案：为各全宗编号，并将几件已办结的公文归档、接收、检测（已有档案时不重复创建）。")

    def add_arguments(self, parser):
        parser.add_argument("--if-empty", action="store_true", help=_("已有档案时只补全全宗号"))

    def handle(self, *args, if_empty, **options):
        made = seed_fonds_codes()
        self.stdout.write(_("全宗：新建 %(n)d 个，共 %(t)d 个。") % {"n": made, "t": Fonds.objects.count()})
        if if_empty and Item.objects.exists():
            self.stdout.write(_("已有档案，未创建示例档案。"))
            return
        try:
            sec = Person.objects.get(username="city_secretary")
            leader = Person.objects.get(username="city_leader")
            archivist = Person.objects.get(username="archivist")
        except Person.DoesNotExist:
            raise CommandError(_("请先运行 seed_demo 创建组织机构和演示账号。")) from None
        sec_post = flow.person_posts(sec)[0]
        city = Unit.objects.get(kind=UnitKind.CITY)
        counties = list(Unit.objects.filter(parent=city, kind=UnitKind.COUNTY).order_by("path")[:2])
        with transaction.atomic():
            decided = flow.do_create_document(person=sec, post=sec_post, data={
                "title": f"{city.name}关于规范公文归档工作的决定", "doc_type": "决定", "body": BODY,
                "main": [c.id for c in counties]})
            flow.do_submit(person=sec, post=sec_post, doc=decided, signers=[flow.person_posts(leader)[0].id])
            step = flow.active_steps(Document.objects.get(id=decided.id))[0]
            flow.do_decide(person=leader, step_id=step.id, decision="agree", opinion="同意")
            decided = flow.do_register(person=sec, post=sec_post, doc=Document.objects.get(id=decided.id))
            flow.do_dispatch(person=sec, post=sec_post, doc=decided)
        filed = []
        for doc in Document.objects.filter(unit=sec_post.unit, state=DocState.DISPATCHED).order_by("id")[:3]:
            filed.append(actions.do_file(person=sec, post=sec_post, document_id=doc.id))
        for item in filed:
            actions.do_accept(person=archivist, item_id=item.id)
        town_items = self._town(sec)
        z = Fonds.objects.filter(unit=city).first()
        if z is not None:
            checks.run_checks(Item.objects.filter(fonds=z, state=ItemState.ACCEPTED), CheckStage.PERIODIC, fonds=z,
                              scope=_("示例"), deep=False)
        self.stdout.write(_("示例档案：已归档并接收 %(n)d 件。") % {"n": len(filed) + town_items})

    def _town(self, sec):
        """The demo town's 文书 finishes and files the notice it received; its 档案员 accepts it."""
        town_sec = Person.objects.filter(username="town_secretary").first()
        if town_sec is None:
            return 0
        post = flow.person_posts(town_sec)[0]
        receipt = Receipt.objects.filter(unit=post.unit, state__in=(ReceiptState.DELIVERED, ReceiptState.SIGNED)) \
            .order_by("id").first()
        if receipt is None:
            return 0
        if receipt.state == ReceiptState.DELIVERED:
            flow.do_sign(person=town_sec, post=post, receipt_id=receipt.id)
        flow.do_register_receipt(person=town_sec, post=post, receipt_id=receipt.id)
        flow.do_propose(person=town_sec, post=post, receipt_id=receipt.id, text="拟请主要领导阅示，党政办牵头落实")
        flow.do_finish(person=town_sec, post=post, receipt_id=receipt.id, note="已传达部署")
        item = actions.do_file(person=town_sec, post=post, receipt_id=receipt.id)
        keeper = Post.objects.active().filter(unit=post.unit, is_archivist=True).select_related("person").first()
        if keeper is not None:
            actions.do_accept(person=keeper.person, item_id=item.id)
        return 1
