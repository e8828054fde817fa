import signal
import time

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from documents.reminders import run_reminders


class Command(BaseCommand):
    help = gettext_lazy("催办：定时发送到期前提醒、到期催办和逾期报告领导（每条只发一次）。")

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=int, default=60, help=_("两次运行之间的秒数（默认60）"))
        parser.add_argument("--once", action="store_true", help=_("运行一次后退出"))

    def handle(self, *args, interval, once, **options):
        if interval < 1 or interval > 86400:
            raise CommandError(_("--interval 须在 1 到 86400 秒之间。"))
        stop = {"now": False}

        def _stop(*_args):
            stop["now"] = True

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        while True:
            sent = run_reminders()
            if sent or once:
                self.stdout.write(_("已发送催办：%(n)d 条") % {"n": sent})
            if once or stop["now"]:
                return
            for _second in range(interval):
                if stop["now"]:
                    return
                time.sleep(1)
