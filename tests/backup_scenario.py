"""Run in a subprocess with DATABASE_URL/S3_* set: a small installation as the backup drill finds
it — a sealed 公文 with an attachment, filed and accepted into the archive (its components in
storage), and a meeting recording. Prints the JSON of what it made, with the hashes to compare
after the restore."""
import json
import os
import sys

import django

sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "office.settings")
django.setup()

from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: E402

from documents import actions  # noqa: E402
from documents.archive import actions as archive  # noqa: E402
from documents.archive import assemble  # noqa: E402
from documents.files import actions as file_actions  # noqa: E402
from documents.models import Document  # noqa: E402
from meetings.actions import do_participant_joined, do_recording_saved, recording_path  # noqa: E402
from office import storage  # noqa: E402
from office.seed import build_small  # noqa: E402
from tests.meetings_support import schedule  # noqa: E402
from tests.test_documents_support import approve_all, draft, post_of, sign_off  # noqa: E402
from tests.test_meetings_recordings import write_webm  # noqa: E402

units, people = build_small()
sec, leader = people["city_secretary"], people["city_leader"]
doc = draft(sec, title="关于做好冬季防火工作的通知", main=[units["秦都区"].id])
att = actions.do_add_attachment(person=sec, post=post_of(sec), doc=doc,
                                upload=SimpleUploadedFile("分工表.txt", "附件".encode() * 5000), ip=None)
sign_off(doc, sec, leader)
approve_all(doc, leader)
actions.do_register(person=sec, post=post_of(sec), doc=doc)
actions.do_dispatch(person=sec, post=post_of(sec), doc=Document.objects.get(id=doc.id))
doc = Document.objects.get(id=doc.id)
file_actions.do_create_seal(person=sec, unit=doc.unit)
pdf = file_actions.do_seal(person=sec, document=doc)

# 归档: the sealed 正本 and the attachment become components of an accepted 件
assemble.ensure_fonds()
item = archive.do_file(person=sec, post=post_of(sec), document_id=doc.id)
item = archive.do_accept(person=people["archivist"], item_id=item.id)
components = [{"name": c.storage_name, "sha256": c.sha256, "sm3": c.sm3, "size": c.size}
              for c in item.components.order_by("order")]

# a recording the SFU handed over (a real small WebM)
county = people["county_secretary"]
meeting = schedule(county, unit_ids=[units["人民路社区"].id], record=True)
do_participant_joined(county, meeting, "video")
path = recording_path(meeting)
write_webm(path)
recording = do_recording_saved(meeting.id, path, duration_seconds=1.0, person=county.id)

print(json.dumps({"document": doc.id, "attachment": att.file.name, "pdf_len": len(pdf),
                  "item": item.id, "archival_code": item.archival_code, "components": components,
                  "recording": recording.path, "recording_sha256": storage.record(recording.path).sha256}))
