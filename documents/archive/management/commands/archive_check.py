"""archive_check --bag DIR | --all: exit 0 when everything passes, else exit 1 with one line per
failure naming the file (or 档号 and component) and the check. Each received bag's check is kept
as a report (one per bag: page, PDF and JSON), as the holdings' check is."""
import sys

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from documents.archive import checks, exports
from documents.archive.models import CheckStage, Item, ItemState
from office.progress import ProgressBar


class Command(BaseCommand):
    help = gettext_lazy("检测收到的移交包（--bag）或全部馆藏（--all）的四性；有问题时逐行列出并以状态1退出。")

    def add_arguments(self, parser):
        parser.add_argument("--bag", action="append", default=[], help=gettext_lazy("BagIt 包目录（可多次给出）"))
        parser.add_argument("--all", action="store_true", help=gettext_lazy("检测全部馆藏"))
        parser.add_argument("--quick", action="store_true", help=gettext_lazy("不逐页渲染（更快）"))

    def handle(self, *args, bag, all, quick, **options):
        if not bag and not all:
            raise CommandError(_("请给出 --bag 目录或 --all。"))
        failures = []
        for path in bag:
            bar = ProgressBar(1, _("检测 %(p)s") % {"p": path}, stream=self.stderr._out)
            try:
                rep = exports.check_bag_report(path, deep=not quick,
                                               progress=lambda d, t: (setattr(bar, "total", t), bar.update(d)))
            except OSError as exc:
                raise CommandError(_("无法读取 %(p)s：%(e)s") % {"p": path, "e": exc}) from None
            bar.finish()
            failures += [f"{path}/{f}: {c}: {r}" for f, c, r in rep.failures()]
            run = exports.save_bag_run(path, rep)
            self.stderr.write(_("检测报告已保存：/documents/archive/reports/%(id)d/（PDF、JSON 同址加 .pdf、.json）")
                              % {"id": run.id})
        if all:
            items = Item.objects.filter(state__in=(ItemState.ACCEPTED, ItemState.SUBMITTED)).order_by("id")
            bar = ProgressBar(items.count() or 1, _("检测馆藏"), stream=self.stderr._out)
            run = checks.run_checks(items, CheckStage.MANUAL, scope="all", deep=not quick,
                                    progress=lambda d, t: bar.update(d))
            bar.finish()
            for e in run.report["items"]:
                for r in e["results"]:
                    if not r["ok"]:
                        failures.append(f"{e['code'] or e['title']} {r['component']}: {r['check']}: {r['reason']}")
        for line in failures:
            self.stdout.write(line)
        if failures:
            self.stderr.write(_("%(n)d 项未通过。") % {"n": len(failures)})
            sys.exit(1)
        self.stdout.write(_("全部通过。"))
