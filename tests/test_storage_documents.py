"""公文 files in object storage: attachments, the sealed PDF and its in-between states in a real SeaweedFS bucket."""
import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from documents import actions
from documents.models import Document
from office import storage
from office.models import StoredFile
from tests.test_documents_support import approve_all, draft, post_of, sign_off

pytestmark = pytest.mark.django_db


def test_it_keeps_attachments_and_the_sealed_pdf_in_the_bucket_and_serves_them_checked(
        s3_storage, settings, city_secretary, city_leader, outsider, units, client_for):
    seaweed, bucket, prefix = s3_storage
    client = client_for(city_secretary)
    # an attachment added to the draft, stored in the bucket, downloaded whole and by range
    doc = draft(city_secretary, title="关于做好冬季防火工作的通知", main=[units["秦都区"].id])
    data = "附件内容".encode() * 3000
    up = client.post(f"/api/documents/{doc.id}/attachments",
                     {"file": SimpleUploadedFile("分工表.xlsx", data)})
    assert up.status_code == 201, up.content
    sign_off(doc, city_secretary, city_leader)
    approve_all(doc, city_leader)
    actions.do_register(person=city_secretary, post=post_of(city_secretary), doc=doc)
    actions.do_dispatch(person=city_secretary, post=post_of(city_secretary), doc=Document.objects.get(id=doc.id))
    doc = Document.objects.get(id=doc.id)
    att = doc.attachments.get(id=up.json()["id"])
    keys = [o["Key"] for o in seaweed.client().list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]]
    assert f"{prefix}/{att.file.name}" in keys
    got = client.get(f"/api/documents/{doc.id}/attachments/{att.id}")
    assert got.status_code == 200 and b"".join(got.streaming_content) == data
    part = client.get(f"/api/documents/{doc.id}/attachments/{att.id}", HTTP_RANGE="bytes=12-23")
    assert part.status_code == 206 and b"".join(part.streaming_content) == data[12:24]
    assert client_for(outsider).get(f"/api/documents/{doc.id}/attachments/{att.id}").status_code in (403, 404)

    # 用印: the issued PDF goes to the bucket with its hash; every server reads it from there
    assert client.post(f"/api/documents/files/seals/{doc.unit_id}").status_code == 201
    sealed = client.post(f"/api/documents/files/{doc.id}/seal")
    assert sealed.status_code == 200, sealed.content
    issued = client.get(f"/api/documents/files/{doc.id}/pdf")
    assert issued["X-Document-Sealed"] == "1"
    rec = StoredFile.objects.get(name=f"documents/{doc.id}/issued.pdf")
    assert rec.sha256 == hashlib.sha256(issued.content).hexdigest()
    key = f"{prefix}/{storage.physical_name(rec)}"  # written in 用印's transaction: a fresh object
    obj = seaweed.client().get_object(Bucket=bucket, Key=key)
    assert obj["Body"].read() == issued.content and obj["Metadata"]["sha256"] == rec.sha256
    assert not settings.MEDIA_ROOT.exists()

    # the sealed file changed in the bucket: refused, naming it, never handed out
    seaweed.client().put_object(Bucket=bucket, Key=key,
                                Body=issued.content.replace(b"%%EOF", b"%%EOX"))
    refused = client.get(f"/api/documents/files/{doc.id}/pdf")
    assert refused.status_code == 502 and f"documents/{doc.id}/issued.pdf" in refused.json()["detail"]
    with pytest.raises(storage.StoredFileCorrupt):
        storage.read(f"documents/{doc.id}/issued.pdf")
