"""Send the pre-start reminders of meetings and trainings (run it every minute from cron/systemd).

    python manage.py meetings_remind [--lead-minutes 15]

Each meeting starting within the lead time is reminded once (live event + 待办), even when
several copies of this job run at the same time.
"""
import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from meetings.actions import send_reminders


class Command(BaseCommand):
    help = gettext_lazy("提醒即将开始的会议和培训（建议每分钟运行一次）")

    def add_arguments(self, parser):
        parser.add_argument("--lead-minutes", type=int, default=15,
                            help=_("提前多少分钟提醒（1–1440，默认15）"))

    def handle(self, *args, lead_minutes=15, **options):
        if not 1 <= lead_minutes <= 1440:
            raise CommandError(_("--lead-minutes 应在 1 到 1440 之间"))
        sent = send_reminders(lead=datetime.timedelta(minutes=lead_minutes))
        self.stdout.write(_("已提醒 %(n)d 个会议或培训") % {"n": sent})
