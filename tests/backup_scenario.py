"""Run in a subprocess with DATABASE_URL/S3_* set: a small installation with a sealed 公文, an
attachment and a meeting material, as the backup drill finds it. Prints the JSON of what it made."""
import json
import os
import sys

import django

sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "office.settings")
django.setup()

from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: E402

from documents import actions  # noqa: E402
from documents.files import actions as file_actions  # noqa: E402
from documents.models import Document  # noqa: E402
from office.seed import build_small  # noqa: E402
from tests.test_documents_support import approve_all, draft, post_of, sign_off  # noqa: E402

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
print(json.dumps({"document": doc.id, "attachment": att.file.name, "pdf_len": len(pdf)}))
