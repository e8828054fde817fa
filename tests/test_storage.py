"""Files through Django's storage API: the local disk or a real SeaweedFS bucket, each file with its SHA-256."""
import hashlib

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.uploadedfile import SimpleUploadedFile

from office import storage
from office.storage_config import s3_options
from tests.meetings_support import schedule

pytestmark = pytest.mark.django_db


def tamper(name, data):
    """Change a stored file behind the suite's back (a disk fault, someone with bucket access)."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    default_storage.exists(name)
    backend = default_storage._wrapped
    super(storage.HashingMixin, backend).delete(name)
    saved = super(storage.HashingMixin, backend)._save(name, ContentFile(data))
    assert saved == name


def test_it_keeps_each_files_sha256_and_reads_it_back(any_storage):
    name = storage.save("tests/一份文件.txt", "内容".encode() * 1000)
    rec = storage.record(name)
    assert rec.sha256 == hashlib.sha256("内容".encode() * 1000).hexdigest() and rec.size == 6000
    assert storage.read(name) == "内容".encode() * 1000
    assert b"".join(storage.iter_range(name, 3, 6)) == "容内".encode()
    again = storage.save("tests/一份文件.txt", b"second")
    assert again != name and storage.read(again) == b"second"  # a taken name is never overwritten silently
    assert storage.save(name, b"replaced", overwrite=True) == name and storage.read(name) == b"replaced"
    storage.delete(name)
    assert not storage.exists(name)
    with pytest.raises(storage.StoredFileMissing):
        storage.read(name)


def test_it_refuses_a_file_whose_bytes_changed_and_names_it(any_storage, client_for, county_secretary,
                                                            village_cadre, units):
    name = storage.save("tests/签报.pdf", b"%PDF-1.7 original")
    tamper(name, b"%PDF-1.7 forged!!")
    with pytest.raises(storage.StoredFileCorrupt, match="签报.pdf"):
        storage.read(name)
    # a material changed in storage is refused at download, naming the file
    meeting = schedule(county_secretary, unit_ids=[units["人民路社区"].id])
    upload = SimpleUploadedFile("议程.pdf", b"%PDF-1.4 agenda", content_type="application/pdf")
    assert client_for(county_secretary).post(f"/meetings/{meeting.id}/materials/", {"file": upload}).status_code == 302
    material = meeting.materials.get()
    got = client_for(village_cadre).get(f"/meetings/{meeting.id}/materials/{material.id}/")
    assert got.status_code == 200 and b"".join(got.streaming_content) == b"%PDF-1.4 agenda"
    tamper(material.file.name, b"%PDF-1.4 AGENDA")
    refused = client_for(village_cadre).get(f"/meetings/{meeting.id}/materials/{material.id}/")
    assert refused.status_code == 502 and material.file.name.split("/")[-1] in refused.content.decode()


def test_it_refuses_a_file_without_a_recorded_hash(any_storage):
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    default_storage.exists("x")
    super(storage.HashingMixin, default_storage._wrapped)._save("tests/stray.bin", ContentFile(b"??"))
    with pytest.raises(storage.StoredFileCorrupt, match="storage_migrate"):
        storage.read("tests/stray.bin")


def test_it_writes_to_the_bucket_with_the_hash_as_metadata_and_nothing_under_media_root(s3_storage, settings):
    seaweed, bucket, prefix = s3_storage
    name = storage.save("documents/9/issued.pdf", b"%PDF sealed")
    head = seaweed.client().head_object(Bucket=bucket, Key=f"{prefix}/{name}")
    assert head["Metadata"]["sha256"] == hashlib.sha256(b"%PDF sealed").hexdigest()
    assert not settings.MEDIA_ROOT.exists()


def test_it_sends_keys_that_the_server_checks(s3_storage, settings):
    from django.core.files.storage import storages

    _seaweed, _bucket, _prefix = s3_storage
    wrong = dict(settings.STORAGES["default"]["OPTIONS"], secret_key="not-the-secret")
    backend = storage.S3Storage(**wrong)
    with pytest.raises(Exception, match="SignatureDoesNotMatch|AccessDenied|403"):
        backend.save("tests/x.txt", SimpleUploadedFile("x.txt", b"x"))
    assert storages["default"].exists("tests/x.txt") is False


@pytest.mark.parametrize("changes, message", [
    ({"endpoint_url": "ftp://store"}, "S3_ENDPOINT_URL"),
    ({"bucket": ""}, "S3_BUCKET must be set"),
    ({"bucket": "Bad_Bucket"}, "not a valid bucket name"),
    ({"access_key": ""}, "S3_ACCESS_KEY_ID"),
    ({"secret_key": ""}, "S3_SECRET_ACCESS_KEY"),
    ({"region": "中国"}, "S3_REGION"),
    ({"addressing_style": "sideways"}, "S3_ADDRESSING_STYLE"),
])
def test_it_stops_start_up_on_a_bad_object_storage_setting(changes, message):
    good = {"endpoint_url": "http://10.0.0.5:8333", "bucket": "yiwangtong", "access_key": "a",
            "secret_key": "s", "region": "us-east-1", "addressing_style": "path"}
    assert s3_options(**good)["bucket_name"] == "yiwangtong"
    with pytest.raises(ImproperlyConfigured, match=message):
        s3_options(**{**good, **changes})
