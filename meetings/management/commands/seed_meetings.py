"""Demo meetings for `make run`, through the real actions (meetings.actions.do_schedule).

    python manage.py seed_meetings [--if-empty]

- a 会议 starting in 5 minutes, hosted by city_secretary, inviting the demo town (town_secretary's
  unit) and all its villages — join-able at once (the room opens for invited people before the start);
- a 培训 tomorrow at 09:30 for "all villages of" the demo town.

Idempotent: a demo meeting whose title already has an open (not ended) copy is not created again.
--if-empty: do nothing at all when any open meeting exists (an old, ended demo does not block a
fresh one, so a demo started another day again has a meeting "in 5 minutes").
"""
import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.utils import timezone

from meetings import actions
from meetings.models import Meeting, MeetingKind, MeetingState
from office.models import Person, Post

MEETING_TITLE = "全市基层防汛工作视频调度会"
TRAINING_TITLE = "村(社区)文书公文处理业务培训"


def _open_meetings():
    return Meeting.objects.filter(state__in=[MeetingState.SCHEDULED, MeetingState.LIVE],
                                  ends_at__gt=timezone.now())


class Command(BaseCommand):
    help = gettext_lazy("示例会议：5分钟后开始的视频会议和明天的村(社区)培训（已有同名未结束会议时不重复创建）。")

    def add_arguments(self, parser):
        parser.add_argument("--if-empty", action="store_true", help=_("已有未结束的会议时什么也不做"))

    def handle(self, *args, if_empty, **options):
        if if_empty and _open_meetings().exists():
            self.stdout.write(_("已有未结束的会议，未创建示例会议。"))
            return
        host = Person.objects.filter(username="city_secretary", is_active=True).first()
        town_sec = Person.objects.filter(username="town_secretary", is_active=True).first()
        if host is None or town_sec is None:
            raise CommandError(_("请先运行 seed_demo 创建组织机构和演示账号。"))
        post = Post.objects.active().filter(person_id=host.id).select_related("unit").first()
        town_post = Post.objects.active().filter(person_id=town_sec.id).select_related("unit").first()
        if post is None or town_post is None:
            raise CommandError(_("演示账号 city_secretary 或 town_secretary 没有在岗岗位。"))
        town = town_post.unit.government
        now = timezone.now().replace(second=0, microsecond=0)
        tomorrow = timezone.localtime(now).replace(hour=9, minute=30) + datetime.timedelta(days=1)
        plans = [
            {"kind": MeetingKind.MEETING, "title": MEETING_TITLE,
             "agenda": "一、通报近期雨情汛情\n二、各镇(街道)汇报隐患排查情况\n三、部署下一步工作",
             "starts_at": now + datetime.timedelta(minutes=5), "ends_at": now + datetime.timedelta(minutes=95),
             "unit_ids": [town.id], "villages_of": [town.id], "record": True},
            {"kind": MeetingKind.TRAINING, "title": TRAINING_TITLE,
             "agenda": "一、公文格式国家标准(GB/T 9704)要点\n二、收文登记与签收\n三、现场签到与答疑",
             "starts_at": tomorrow, "ends_at": tomorrow + datetime.timedelta(hours=2),
             "villages_of": [town.id], "record": True},
        ]
        made = []
        try:
            for plan in plans:
                if _open_meetings().filter(title=plan["title"], host_id=host.id).exists():
                    continue
                made.append(actions.do_schedule(host, post, **plan))
        except actions.ActionError as exc:
            raise CommandError(_("示例会议创建失败：%(error)s") % {"error": exc.message}) from None
        if not made:
            self.stdout.write(_("示例会议已存在，未重复创建。"))
        for meeting in made:
            when = timezone.localtime(meeting.starts_at).strftime("%Y-%m-%d %H:%M")
            self.stdout.write(_("已创建示例%(kind)s #%(id)d：%(title)s（%(when)s）")
                              % {"kind": meeting.get_kind_display(), "id": meeting.id, "title": meeting.title,
                                 "when": when})
