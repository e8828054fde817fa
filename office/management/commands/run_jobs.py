import threading

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from office import scheduler


class Command(BaseCommand):
    help = gettext_lazy("运行定时任务（公文催办、会议提醒）：--once 运行一次，否则每隔 YW_JOBS_INTERVAL 秒运行。")

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help=_("运行一次后退出"))

    def handle(self, *args, once=False, **options):
        if once:
            for name, result in scheduler.run_once().items():
                self.stdout.write(f"{name}: {result}")
            return
        self.stdout.write(_("定时任务已启动（Ctrl+C 退出）。"))
        try:
            scheduler.run_forever(threading.Event())
        except KeyboardInterrupt:
            pass
