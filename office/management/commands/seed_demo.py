from django.core.management.base import BaseCommand, CommandError

from office.models import Unit
from office.progress import ProgressBar
from office.seed import DEMO_PASSWORD, build_demo


class Command(BaseCommand):
    help = "建立演示组织机构（咸阳规模：1个市、14个县区、约150个镇街、约3000个村社区）和演示账号。"

    def add_arguments(self, parser):
        parser.add_argument("--size", choices=["full", "small"], default="full",
                            help="full：咸阳规模；small：测试用的小树")
        parser.add_argument("--if-empty", action="store_true", help="数据库中已有单位时什么也不做")

    def handle(self, *args, size, if_empty, **options):
        if if_empty and Unit.objects.exists():
            self.stdout.write("组织机构已存在，跳过演示数据。")
            return
        bar = ProgressBar(6, "建立组织机构", stream=self.stderr._out)
        try:
            report = build_demo(progress=lambda done, total: bar.update(done), size=size)
        except Exception as exc:  # one readable line, no traceback
            raise CommandError(f"演示数据建立失败：{exc}") from exc
        bar.finish()
        total = Unit.objects.count()
        self.stdout.write(
            f"新建单位 {report.units_created} 个，人员 {report.people_created} 人，岗位 {report.posts_created} 个；"
            f"现有单位共 {total} 个。"
        )
        self.stdout.write(f"演示账号（密码均为 {DEMO_PASSWORD}）：")
        for username, role, unit in report.logins:
            self.stdout.write(f"  {username:<18} {role}（{unit}）")
