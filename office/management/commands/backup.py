"""`python manage.py backup --out DIR`: a consistent database dump plus the files and their hashes (office/backup.py)."""
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from office import backup
from office.models import StoredFile
from office.progress import ProgressBar


class Command(BaseCommand):
    help = gettext_lazy("备份：一致的数据库转储，加上全部存储文件及其SHA-256清单。")

    def add_arguments(self, parser):
        parser.add_argument("--out", required=True, help="an empty (or new) folder")
        parser.add_argument("--no-files", action="store_true",
                            help="write the manifest only (the bucket is replicated on its own)")

    def handle(self, *args, **options):
        bar = ProgressBar(StoredFile.objects.count() or 1, _("备份文件"), stream=self.stderr._out)
        try:
            manifest = backup.dump(options["out"], files=not options["no_files"], progress=bar.advance)
        except (backup.BackupError, OSError) as exc:
            raise CommandError(_("备份失败：%(e)s") % {"e": exc}) from None
        bar.finish()
        self.stdout.write(_("备份完成：数据库与 %(n)d 个文件，清单 %(d)s/files.json。")
                          % {"n": len(manifest["files"]), "d": options["out"]})
