"""Delete the leftover versions of in-transaction writes that no record names (`.v/` objects)."""
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from office import storage
from office.progress import ProgressBar


class Command(BaseCommand):
    help = gettext_lazy("清理存储中无登记引用的文件旧版本（.v/ 目录中事务中断或回滚后遗留的对象）。")

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help=gettext_lazy("只列出，不删除。"))
        parser.add_argument("--min-age", default="60",
                            help=gettext_lazy("只清理至少这么多分钟前写入的对象（默认 60）。"))

    def handle(self, *args, **options):
        try:
            minutes = float(options["min_age"])
        except ValueError:
            minutes = -1
        if not 0 <= minutes <= 10 ** 6:
            raise CommandError(_("--min-age 应为不小于 0 的分钟数。"))
        orphans = storage.orphan_versions(min_age=minutes * 60)
        if options["dry_run"]:
            for name in orphans:
                self.stdout.write(name)
            self.stdout.write(_("找到 %(n)d 个遗留的旧版本（未删除）。") % {"n": len(orphans)})
            return
        bar = ProgressBar(len(orphans) or 1, _("清理旧版本"), stream=self.stderr._out)
        for name in orphans:
            storage.delete_version(name)
            bar.advance()
        bar.finish()
        self.stdout.write(_("已删除 %(n)d 个遗留的旧版本。") % {"n": len(orphans)})
