from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('office', '0006_person_language'),
    ]

    operations = [
        migrations.AddField(
            model_name='storedfile',
            name='blob',
            field=models.CharField(blank=True, db_index=True, max_length=500),
        ),
    ]
