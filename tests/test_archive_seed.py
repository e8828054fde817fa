"""seed_archive: `make run` shows a populated archive (codes for every 全宗, accepted 件, a report)."""
from io import StringIO

import pytest
from django.core.management import call_command

from documents.archive.models import CheckRun, Fonds, Item, ItemState
from office.models import Unit, UnitKind
from tests.archive_support import isolated_files  # noqa: F401


@pytest.mark.django_db
def test_it_seeds_codes_accepted_items_and_a_report_once(client_for):
    call_command("seed_demo", "--size", "small", stdout=StringIO(), stderr=StringIO())
    call_command("seed_documents", "--if-empty", stdout=StringIO())
    call_command("seed_archive", "--if-empty", stdout=StringIO())
    towns = Unit.objects.filter(kind=UnitKind.TOWN)
    assert all(Fonds.objects.filter(unit=t).exists() for t in towns)
    accepted = Item.objects.filter(state=ItemState.ACCEPTED)
    assert accepted.filter(direction="sent").count() >= 2 and accepted.filter(direction="received").exists()
    assert CheckRun.objects.filter(ok=True).exists()
    count = Item.objects.count()
    call_command("seed_archive", "--if-empty", stdout=StringIO())
    assert Item.objects.count() == count
    from office.models import Person

    page = client_for(Person.objects.get(username="archivist")).get("/documents/archive/").content.decode()
    assert accepted.filter(fonds__code="Z001").first().archival_code in page
