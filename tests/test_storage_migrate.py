"""storage_migrate: an installation's files move from MEDIA_ROOT into the bucket, hashed, resumable, with a dry run."""
import pytest
from django.core.management import call_command

from office import storage
from office.models import StoredFile

pytestmark = pytest.mark.django_db(transaction=True)  # as the command runs: outside a transaction


@pytest.fixture
def old_media(tmp_path):
    root = tmp_path / "old-media"
    (root / "documents" / "3").mkdir(parents=True)
    (root / "documents" / "3" / "issued.pdf").write_bytes(b"%PDF-1.7 sealed" * 1000)
    (root / "meetings" / "5" / "materials").mkdir(parents=True)
    (root / "meetings" / "5" / "materials" / "议程.pdf").write_bytes(b"%PDF agenda")
    return root


def test_it_copies_every_file_into_the_bucket_checking_hashes_and_resumes(s3_storage, old_media, capsys):
    seaweed, bucket, prefix = s3_storage
    call_command("storage_migrate", "--source", str(old_media), "--dry-run")
    assert "将复制 2 个文件" in capsys.readouterr().out
    assert not StoredFile.objects.exists() and not storage.exists("documents/3/issued.pdf")

    call_command("storage_migrate", "--source", str(old_media))
    assert "已复制 2 个文件" in capsys.readouterr().out
    assert storage.read("documents/3/issued.pdf") == b"%PDF-1.7 sealed" * 1000
    assert storage.read("meetings/5/materials/议程.pdf") == b"%PDF agenda"
    keys = {o["Key"] for o in seaweed.client().list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]}
    assert f"{prefix}/meetings/5/materials/议程.pdf" in keys

    # interrupted and run again: what is there already is skipped, a changed file is copied again
    (old_media / "meetings" / "5" / "materials" / "议程.pdf").write_bytes(b"%PDF agenda v2")
    call_command("storage_migrate", "--source", str(old_media))
    assert "已复制 1 个文件" in capsys.readouterr().out and storage.read("meetings/5/materials/议程.pdf") == \
        b"%PDF agenda v2"
    call_command("storage_verify")
    assert "全部 2 个文件校验通过" in capsys.readouterr().out


def test_it_records_hashes_in_place_without_object_storage(settings, old_media, capsys):
    settings.MEDIA_ROOT = old_media
    with pytest.raises(storage.StoredFileCorrupt):
        storage.read("documents/3/issued.pdf")  # written by an earlier version: no hash yet
    call_command("storage_migrate")
    assert "登记 2 个文件的哈希" in capsys.readouterr().out
    assert storage.read("documents/3/issued.pdf") == b"%PDF-1.7 sealed" * 1000
