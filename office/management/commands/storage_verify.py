"""Hash every stored file and compare it with the SHA-256 recorded when it was written."""
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from office import storage
from office.models import StoredFile
from office.progress import ProgressBar


class Command(BaseCommand):
    help = gettext_lazy("逐一校验存储中每个文件的SHA-256与登记值是否一致。")

    def handle(self, *args, **options):
        records = list(StoredFile.objects.order_by("name"))
        bar = ProgressBar(len(records) or 1, _("校验文件"), stream=self.stderr._out)
        bad = []
        for rec in records:
            try:
                if not storage.verify(rec.name, rec):
                    bad.append(rec.name)
            except Exception:  # missing from storage
                bad.append(rec.name)
            bar.advance()
        bar.finish()
        if bad:
            raise CommandError(_("%(n)d 个文件与登记不符或缺失，第一个：%(name)s") % {"n": len(bad), "name": bad[0]})
        self.stdout.write(_("全部 %(n)d 个文件校验通过。") % {"n": len(records)})
