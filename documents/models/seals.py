"""印章保管人: the posts an administrator named to keep a unit's seal (the seal itself is a file, documents/signing)."""
from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class SealKeeper(models.Model):
    """`post` keeps `unit`'s seal. A unit with none named is kept by its secretaries (and a government's
    by its 办公室's secretaries); once one is named, only the named keepers apply the seal."""

    unit = models.ForeignKey("office.Unit", on_delete=models.PROTECT, related_name="+")
    post = models.ForeignKey("office.Post", on_delete=models.PROTECT, related_name="+")
    named_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["unit", "post"], name="seal_keeper_once_per_unit")]
        verbose_name = _("印章保管人")
        verbose_name_plural = _("印章保管人")

    def __str__(self):
        return f"{self.unit_id} · {self.post_id}"
