from django.db import migrations

from documents.archive.search import create_schema, drop_schema


class Migration(migrations.Migration):
    dependencies = [("archive", "0001_initial")]
    operations = [migrations.RunPython(create_schema, drop_schema)]
