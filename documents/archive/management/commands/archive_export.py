"""archive_export --year YYYY --out DIR [--fonds CODE]: one BagIt bag per 全宗."""
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from documents.archive import checks, exports
from documents.archive.models import CheckStage, Fonds, ItemState
from office.progress import ProgressBar


class Command(BaseCommand):
    help = gettext_lazy("导出移交包：每个全宗一个 BagIt 包（SHA-256 与 SM3 清单），移交前做四性检测。")

    def add_arguments(self, parser):
        parser.add_argument("--year", type=int, required=True, help=gettext_lazy("年度"))
        parser.add_argument("--out", required=True, help=gettext_lazy("输出目录"))
        parser.add_argument("--fonds", default="", help=gettext_lazy("全宗号（省略则导出全部全宗）"))
        parser.add_argument("--no-check", action="store_true", help=gettext_lazy("不做移交前的四性检测"))

    def handle(self, *args, year, out, fonds, no_check, **options):
        if not 1949 <= year <= 2100:
            raise CommandError(_("年度应在1949到2100之间。"))
        qs = Fonds.objects.all().order_by("code")
        if fonds:
            qs = qs.filter(code=fonds)
            if not qs.exists():
                raise CommandError(_("没有全宗号为 %(c)s 的全宗。") % {"c": fonds})
        out_dir = Path(out)
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CommandError(_("无法创建输出目录：%(e)s") % {"e": exc}) from None
        made = 0
        for f in qs:
            items = exports.holdings(f, year, states=(ItemState.ACCEPTED,))
            total = items.count()
            if not total and not fonds:
                continue
            if not no_check:
                bar = ProgressBar(total or 1, _("四性检测 %(c)s") % {"c": f.code}, stream=self.stderr._out)
                run = checks.run_checks(items, CheckStage.TRANSFER, fonds=f, scope=f"{f.code}-{year}", deep=False,
                                        progress=lambda d, t: bar.update(d))
                bar.finish()
                if not run.ok:
                    bad = [e for e in run.report["items"] if not e["ok"]]
                    for e in bad[:20]:
                        for r in e["results"]:
                            if not r["ok"]:
                                self.stderr.write(f"{e['code'] or e['title']} {r['component']}: {r['check']}: {r['reason']}")
                    raise CommandError(_("全宗 %(c)s 有 %(n)d 件未通过四性检测，未导出（报告 #%(r)d）。")
                                       % {"c": f.code, "n": run.failed, "r": run.id})
            bar = ProgressBar(total or 1, _("导出 %(c)s") % {"c": f.code}, stream=self.stderr._out)
            bag = exports.export_bag(f, year, out_dir, progress=lambda d, t: bar.update(d))
            bar.finish()
            self.stdout.write(_("%(p)s：%(n)d件") % {"p": bag, "n": total})
            made += 1
        if not made:
            self.stdout.write(_("%(y)d年度没有已归档的件。") % {"y": year})
