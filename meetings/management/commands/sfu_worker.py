"""python manage.py sfu_worker — one SFU worker process (SFU_WORKERS=external).

Run one per CPU core, on one or several machines sharing the Redis channel layer and
cache; rooms are placed onto workers through the channel layer (meetings/sfu/worker.py).
"""
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy


class Command(BaseCommand):
    help = gettext_lazy("运行一个 SFU 工作进程，承载经通道层分配给它的会议室。")

    def add_arguments(self, parser):
        parser.add_argument("--max-rooms", type=int, default=200,
                            help=_("承载的会议室达到这个数量后不再接收新的会议室（默认200）"))

    def handle(self, *args, **options):
        backend = settings.CHANNEL_LAYERS.get("default", {}).get("BACKEND", "")
        if "InMemory" in backend:
            raise CommandError(_("SFU 工作进程需要 Redis 通道层：请设置 REDIS_URL（内存通道层不能跨进程）。"))
        if options["max_rooms"] < 1:
            raise CommandError(_("--max-rooms 必须至少为 1。"))
        from meetings.sfu.worker import run_worker

        try:
            run_worker(max_rooms=options["max_rooms"])
        except KeyboardInterrupt:
            pass
