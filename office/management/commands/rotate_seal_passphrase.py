"""Re-wrap every seal and CA key under a new passphrase (office/keyring.py).

    YW_SEAL_PASSPHRASE_FILE=/etc/yiwangtong/seal-passphrase.old \\
        python manage.py rotate_seal_passphrase --new-file /etc/yiwangtong/seal-passphrase.new

The old passphrase is the one in the environment (YW_SEAL_PASSPHRASE / _FILE, else SECRET_KEY),
the new one is read from --new-file (never from the command line, which `ps` shows). All or
nothing: the keys stay readable with the old passphrase until the command succeeds. Then give
every web server and worker the new passphrase and restart them.
"""
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from office import keyring
from office.models import KeyMaterial
from office.progress import ProgressBar


class Command(BaseCommand):
    help = gettext_lazy("用新口令重新加密全部印章与CA密钥（信封加密，仅重新包装数据密钥）。")

    def add_arguments(self, parser):
        parser.add_argument("--new-file", required=True, help="file holding the new passphrase")

    def handle(self, *args, **options):
        try:
            new = Path(options["new_file"]).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise CommandError(_("无法读取新口令文件：%(e)s") % {"e": exc.strerror}) from None
        if len(new) < 12:
            raise CommandError(_("新口令至少需要12个字符。"))
        try:
            old = keyring.passphrase()
        except keyring.KeyringError as exc:
            raise CommandError(str(exc)) from None
        bar = ProgressBar(KeyMaterial.objects.filter(encrypted=True).count() or 1, _("重新加密密钥"),
                          stream=self.stderr._out)
        try:
            count = keyring.rotate(old, new, progress=bar.advance)
        except keyring.KeyringError as exc:
            raise CommandError(str(exc)) from None
        bar.finish()
        self.stdout.write(_("已用新口令重新加密 %(n)d 个密钥；请在每台服务器上换用新口令并重启。") % {"n": count})
