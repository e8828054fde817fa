"""Versions left behind by a process that died inside a transaction (a `.v/` object no record
names) are found and deleted by `storage_sweep`, on the local disk and in SeaweedFS; the current
versions and fresh objects whose transaction may still be open are kept."""
import time

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction

from office import storage
from office.models import StoredFile
from tests.test_storage_transactions import objects_under

pytestmark = pytest.mark.django_db(transaction=True)

NAME = "documents/7/issued.pdf"


def _crashed_write(content):
    """What a worker killed after writing a version and before its transaction ended leaves:
    the object, and (its transaction never committing) no record naming it."""
    with pytest.raises(RuntimeError), transaction.atomic():
        storage.save(NAME, content, overwrite=True)
        raise RuntimeError("killed")
    storage._pending.blobs = []  # the dead process never got to discard it


def test_it_deletes_only_the_versions_no_record_names_and_keeps_the_current_one(any_storage, capsys):
    with transaction.atomic():
        storage.save(NAME, b"%PDF-1.7 issued", overwrite=True)
    current = storage.physical_name(StoredFile.objects.get(name=NAME))
    _crashed_write(b"%PDF-1.7 never committed")
    _crashed_write(b"%PDF-1.7 never committed either")
    assert len(objects_under("documents/7")) == 3

    assert len(storage.orphan_versions(min_age=0)) == 2
    assert storage.orphan_versions(min_age=3600) == []  # too young: their transaction may be open
    call_command("storage_sweep", "--dry-run", "--min-age", "0")
    assert "找到 2 个" in capsys.readouterr().out
    assert len(objects_under("documents/7")) == 3  # a dry run deletes nothing

    call_command("storage_sweep", "--min-age", "0")
    assert "已删除 2 个" in capsys.readouterr().out
    assert objects_under("documents/7") == [current]
    assert storage.read(NAME) == b"%PDF-1.7 issued" and storage.verify(NAME)
    call_command("storage_sweep", "--min-age", "0")
    assert "已删除 0 个" in capsys.readouterr().out


def test_it_keeps_a_fresh_version_until_it_is_old_enough(any_storage):
    _crashed_write(b"%PDF-1.7 in flight")
    (orphan,) = storage.orphan_versions(min_age=0)
    assert storage.orphan_versions(min_age=60, now=time.time()) == []
    assert storage.orphan_versions(min_age=60, now=time.time() + 120) == [orphan]


def test_it_never_deletes_a_file_outside_a_versions_folder():
    with pytest.raises(ValueError):
        storage.delete_version("documents/7/issued.pdf")


@pytest.mark.parametrize("value", ["-1", "abc", "1e9", "nan"])
def test_it_refuses_a_bad_minimum_age_in_one_chinese_line(value):
    with pytest.raises(CommandError, match="--min-age"):
        call_command("storage_sweep", "--min-age", value)
