"""A file written inside a transaction follows the transaction: a rollback leaves the old bytes
with their recorded hash (and deletes the new ones), a commit switches to the new bytes and
deletes the old — on the local disk and in SeaweedFS."""
import hashlib

import pytest
from django.core.signals import request_finished
from django.db import transaction

from office import storage
from office.models import StoredFile

pytestmark = pytest.mark.django_db(transaction=True)

NAME = "documents/5/issued.pdf"


class Boom(Exception):
    pass


def objects_under(folder):
    """Every object the backend holds under `folder`, recursively (what is really stored)."""
    try:
        dirs, files = storage.backend().listdir(folder)
    except FileNotFoundError:
        return []
    found = [f"{folder}/{f}" for f in files]
    for d in dirs:
        found += objects_under(f"{folder}/{d}")
    return sorted(found)


def test_it_keeps_the_old_bytes_with_their_hash_when_a_transaction_that_overwrote_the_file_rolls_back(any_storage):
    storage.save(NAME, b"%PDF-1.7 first seal")
    with pytest.raises(Boom), transaction.atomic():
        storage.save(NAME, b"%PDF-1.7 second seal, rolled back", overwrite=True)
        assert storage.read(NAME) == b"%PDF-1.7 second seal, rolled back"  # the transaction sees its write
        raise Boom
    assert storage.read(NAME) == b"%PDF-1.7 first seal"
    rec = StoredFile.objects.get(name=NAME)
    assert rec.sha256 == hashlib.sha256(b"%PDF-1.7 first seal").hexdigest()
    assert storage.verify(NAME)
    with storage.backend().open(NAME) as fh:  # a FileField or the archive reads the same bytes
        assert fh.read() == b"%PDF-1.7 first seal"
    # the rolled-back bytes are deleted when the request ends: only the committed file is left
    assert len(objects_under("documents/5")) == 2
    request_finished.send(sender=None)
    assert objects_under("documents/5") == [storage.physical_name(rec)]


def test_it_switches_to_the_new_bytes_on_commit_and_deletes_the_old_ones(any_storage):
    storage.save(NAME, b"%PDF-1.7 first seal")
    with transaction.atomic():
        storage.save(NAME, b"%PDF-1.7 sealed again", overwrite=True)
        assert storage.read(NAME) == b"%PDF-1.7 sealed again"
    assert storage.read(NAME) == b"%PDF-1.7 sealed again"
    rec = StoredFile.objects.get(name=NAME)
    assert rec.sha256 == hashlib.sha256(b"%PDF-1.7 sealed again").hexdigest()
    assert objects_under("documents/5") == [storage.physical_name(rec)]
    # overwritten once more in another transaction: still one object, the newest
    with transaction.atomic():
        storage.save(NAME, b"%PDF-1.7 third", overwrite=True)
    assert storage.read(NAME) == b"%PDF-1.7 third"
    assert objects_under("documents/5") == [storage.physical_name(StoredFile.objects.get(name=NAME))]
    # deleting the name deletes its bytes
    storage.delete(NAME)
    assert not storage.exists(NAME) and objects_under("documents/5") == []


def test_it_leaves_no_file_behind_when_the_first_write_of_a_name_rolls_back(any_storage):
    with pytest.raises(Boom), transaction.atomic():
        storage.save(NAME, b"%PDF-1.7 never issued", overwrite=True)
        assert storage.exists(NAME)
        raise Boom
    assert not storage.exists(NAME)  # the document does not look issued
    with pytest.raises(storage.StoredFileMissing):
        storage.read(NAME)
    assert storage.discard_rolled_back() == 1
    assert objects_under("documents/5") == []
