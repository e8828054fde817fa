from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from office import audit
from office.models import AuditEntry
from office.progress import ProgressBar


class Command(BaseCommand):
    help = gettext_lazy("校验审计日志的哈希链：指出第一条被修改、删除或插入的记录。")

    def handle(self, *args, **options):
        bar = ProgressBar(AuditEntry.objects.count() or 1, _("校验审计日志"), stream=self.stderr._out)
        try:
            count = audit.verify(progress=lambda done, total: bar.update(done))
        except audit.ChainBroken as exc:
            raise CommandError(_("审计日志第 %(seq)d 条记录异常：%(reason)s")
                               % {"seq": exc.seq, "reason": exc.message()}) from None
        bar.finish()
        self.stdout.write(_("审计日志完整：共 %(n)d 条记录，哈希链校验通过。") % {"n": count})
