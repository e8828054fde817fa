"""`python manage.py restore --from DIR`: into an EMPTY database and storage, every file hash checked (office/backup.py)."""
import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from office import backup
from office.progress import ProgressBar


class Command(BaseCommand):
    help = gettext_lazy("从备份恢复到空数据库与空存储，逐一校验文件哈希。")

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="src", required=True, help="a folder written by backup")

    def handle(self, *args, **options):
        try:
            count = len(json.loads((Path(options["src"]) / "files.json").read_text(encoding="utf-8"))["files"])
        except (OSError, ValueError, KeyError):
            raise CommandError(_("恢复失败：%(d)s 不是备份目录。") % {"d": options["src"]}) from None
        bar = ProgressBar(count or 1, _("恢复文件"), stream=self.stderr._out)
        try:
            manifest = backup.restore(options["src"], progress=bar.advance)
        except (backup.BackupError, OSError) as exc:
            raise CommandError(_("恢复失败：%(e)s") % {"e": exc}) from None
        bar.finish()
        self.stdout.write(_("恢复完成：数据库与 %(n)d 个文件，哈希全部一致。") % {"n": len(manifest["files"])})
