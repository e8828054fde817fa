"""Recordings are named by their storage name (meetings/<id>/recordings/x.webm), no longer by an
absolute path under MEDIA_ROOT: convert the rows an earlier version wrote."""
from pathlib import Path

from django.conf import settings
from django.db import migrations


def to_storage_names(apps, schema_editor):
    Recording = apps.get_model("meetings", "Recording")
    root = Path(settings.MEDIA_ROOT).resolve()
    for rec in Recording.objects.filter(path__startswith="/"):
        try:
            name = Path(rec.path).resolve().relative_to(root).as_posix()
        except ValueError:
            continue
        Recording.objects.filter(id=rec.id).update(path=name)


class Migration(migrations.Migration):
    dependencies = [("meetings", "0001_initial")]
    operations = [migrations.RunPython(to_storage_names, migrations.RunPython.noop)]
