from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from office.models import Unit
from office.progress import ProgressBar
from office.seed import DEMO_PASSWORD, build_demo


class Command(BaseCommand):
    help = gettext_lazy("建立演示组织机构（咸阳规模：1个市、14个县区、约150个镇街、约3000个村社区）和演示账号。")

    def add_arguments(self, parser):
        parser.add_argument("--size", choices=["full", "small"], default="full",
                            help=_("full：咸阳规模；small：测试用的小树"))
        parser.add_argument("--if-empty", action="store_true", help=_("数据库中已有单位时什么也不做"))

    def handle(self, *args, size, if_empty, **options):
        if if_empty and Unit.objects.exists():
            self.stdout.write(_("组织机构已存在，跳过演示数据。"))
            return
        bar = ProgressBar(6, _("建立组织机构"), stream=self.stderr._out)
        try:
            report = build_demo(progress=lambda done, total: bar.update(done), size=size)
        except Exception as exc:  # one readable line, no traceback
            raise CommandError(_("演示数据建立失败：%(error)s") % {"error": exc}) from exc
        bar.finish()
        total = Unit.objects.count()
        self.stdout.write(
            _("新建单位 %(units)d 个，人员 %(people)d 人，岗位 %(posts)d 个；现有单位共 %(total)d 个。") % {
                "units": report.units_created, "people": report.people_created, "posts": report.posts_created,
                "total": total})
        self.stdout.write(_("演示账号（密码均为 %(password)s）：") % {"password": DEMO_PASSWORD})
        for username, role, unit in report.logins:
            self.stdout.write(f"  {username:<18} {role}（{unit}）")
