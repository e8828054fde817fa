"""Copy the files of an installation from the local disk (MEDIA_ROOT) into the configured storage.

    S3_ENDPOINT_URL=… python manage.py storage_migrate [--source DIR] [--dry-run]

Every file under the source folder goes to the same name in storage (an S3 bucket when
S3_ENDPOINT_URL is set), streamed, with its SHA-256 recorded; each copy is read back and hashed
before it counts. Resumable: a file already in storage with the same hash is skipped, so an
interrupted run simply runs again. Without object storage the files stay where they are and only
their hashes are recorded. Seals that an earlier version kept under var/seals are imported into
the database (office/keyring.py) too. --dry-run says what would be copied and changes nothing.
"""
import os
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from office import storage
from office.models import StoredFile
from office.progress import ProgressBar

# Named by dotted path: office imports no app (see the house plan).
LEGACY_SEALS = "documents.signing.ca.import_legacy"


class Command(BaseCommand):
    help = gettext_lazy("把本地磁盘（MEDIA_ROOT）上的文件迁移到所配置的存储，逐一校验哈希；可中断后续传。")

    def add_arguments(self, parser):
        parser.add_argument("--source", default=None, help="folder to copy from (default: MEDIA_ROOT)")
        parser.add_argument("--dry-run", action="store_true", help="say what would be copied, change nothing")

    def handle(self, *args, **options):
        source = Path(options["source"] or settings.MEDIA_ROOT)
        dry = options["dry_run"]
        if not source.is_dir():
            raise CommandError(_("源目录不存在：%(d)s") % {"d": source})
        files = sorted(p for p in source.rglob("*") if p.is_file() and not p.name.endswith(".tmp"))
        in_place = not storage.is_object_storage() and \
            Path(getattr(storage.backend(), "location", "")).resolve() == source.resolve()
        bar = ProgressBar(len(files) or 1, _("迁移文件"), stream=self.stderr._out)
        copied = skipped = recorded = 0
        size = 0
        for path in files:
            name = path.relative_to(source).as_posix()
            rec = None
            if storage.VERSIONS_DIR in PurePosixPath(name).parts[:-1]:
                # the bytes of a name written inside a transaction (its record's blob); a file
                # there that no record names is left over from a rollback
                rec = StoredFile.objects.filter(blob=name).first()
                if rec is None:
                    bar.advance()
                    continue
                name = rec.name
            digest = storage.file_sha256(path)
            rec = rec or StoredFile.objects.filter(name=name).first()
            if in_place:
                if rec is None or rec.sha256 != digest:
                    if not dry:
                        StoredFile.objects.update_or_create(
                            name=name, defaults={"sha256": digest, "size": path.stat().st_size, "verified_tag": ""})
                    recorded += 1
                else:
                    skipped += 1
            elif rec is not None and not rec.blob and rec.sha256 == digest and storage.exists(name) \
                    and storage.verify(name, rec):
                skipped += 1
            else:
                size += path.stat().st_size
                copied += 1
                if not dry:
                    saved = storage.save_local_file(name, path, overwrite=True)
                    if saved != name or not storage.verify(name):
                        raise CommandError(_("文件“%(name)s”迁移后校验失败。") % {"name": name})
                    if storage.record(name).sha256 != digest:
                        raise CommandError(_("文件“%(name)s”迁移后校验失败。") % {"name": name})
            bar.advance()
        bar.finish()
        seals = 0
        if not dry:
            try:
                seals = import_string(LEGACY_SEALS)()
            except ImportError:
                seals = 0
            except Exception as exc:  # a SealError: wrong passphrase for the old files
                raise CommandError(str(exc)) from None
        verb = _("将复制") if dry else _("已复制")
        self.stdout.write(_("%(verb)s %(n)d 个文件（%(mb).1f MB），跳过 %(s)d 个已迁移文件，登记 %(r)d 个文件的哈希，"
                            "导入 %(k)d 套印章。") % {"verb": verb, "n": copied, "mb": size / 1e6, "s": skipped,
                                                 "r": recorded, "k": seals})
        if not dry and storage.is_object_storage() and copied:
            self.stdout.write(_("文件已在对象存储中；确认无误后可删除 %(d)s。") % {"d": os.fspath(source)})
