"""Seals are guarded: only keepers see a seal's picture, and two 用印 at once seal once."""
from __future__ import annotations

import threading

import pikepdf
import pytest
from django.db import close_old_connections
from django.test import Client

from documents.files import actions as file_actions
from documents.models import Document
from office.errors import ActionError
from office.models import AuditEntry
from tests.test_documents_support import dispatched


@pytest.fixture(autouse=True)
def isolated_files(tmp_path, monkeypatch, settings):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def _seal_of(client, unit_id):
    resp = client.post(f"/api/documents/files/seals/{unit_id}")
    assert resp.status_code == 201, resp.content


@pytest.mark.django_db
def test_it_shows_a_seal_picture_to_its_keeper_only(city_secretary, city_leader, village_cadre, outsider,
                                                     admin, client_for):
    keeper = client_for(city_secretary)
    unit_id = city_secretary.posts.first().unit_id
    _seal_of(keeper, unit_id)
    assert keeper.get(f"/api/documents/files/seals/{unit_id}/picture.png")["Content-Type"] == "image/png"
    assert client_for(admin).get(f"/api/documents/files/seals/{unit_id}/picture.png").status_code == 200
    for stranger in (village_cadre, outsider):
        resp = client_for(stranger).get(f"/api/documents/files/seals/{unit_id}/picture.png")
        assert resp.status_code == 403
        assert "印章保管人" in resp.json()["detail"]
        assert resp["Content-Type"] != "image/png"
    assert Client().get(f"/api/documents/files/seals/{unit_id}/picture.png").status_code in (401, 403)


@pytest.mark.django_db
def test_it_answers_404_for_a_unit_without_a_seal(city_secretary, client_for):
    unit_id = city_secretary.posts.first().unit_id
    resp = client_for(city_secretary).get(f"/api/documents/files/seals/{unit_id}/picture.png")
    assert resp.status_code == 404 and "尚未制作" in resp.json()["detail"]
    assert client_for(city_secretary).get("/api/documents/files/seals/999999/picture.png").status_code == 404


@pytest.mark.django_db
def test_it_does_not_tell_a_stranger_whether_a_unit_has_a_seal(city_secretary, outsider, units, client_for):
    sealed = city_secretary.posts.first().unit_id
    _seal_of(client_for(city_secretary), sealed)
    stranger = client_for(outsider)
    answers = [stranger.get(f"/api/documents/files/seals/{unit_id}/picture.png")
               for unit_id in (sealed, units["人民路街道"].id)]  # the second has no seal
    assert [r.status_code for r in answers] == [403, 403]
    assert answers[0].json() == answers[1].json()


@pytest.mark.django_db(transaction=True)
def test_it_seals_once_when_two_keepers_press_at_the_same_moment(city_secretary, city_leader, units, client_for):
    doc = dispatched(city_secretary, city_leader, title="关于做好冬季防火工作的通知", main=[units["秦都区"].id])
    _seal_of(client_for(city_secretary), doc.unit_id)
    barrier = threading.Barrier(2)
    outcomes: list = []

    def press():
        try:
            barrier.wait(5)
            mine = Document.objects.get(id=doc.id)
            outcomes.append(("sealed", file_actions.do_seal(person=city_secretary, document=mine)))
        except ActionError as exc:
            outcomes.append(("refused", exc))
        finally:
            close_old_connections()

    threads = [threading.Thread(target=press) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    kinds = sorted(kind for kind, _ in outcomes)
    assert kinds == ["refused", "sealed"], outcomes
    refusal = next(v for k, v in outcomes if k == "refused")
    assert refusal.status == 409 and "已用印" in refusal.message
    assert AuditEntry.objects.filter(action="document.seal").count() == 1
    resp = client_for(city_secretary).get(f"/api/documents/files/{doc.id}/pdf")
    assert resp["X-Document-Sealed"] == "1"
    signed = next(v for k, v in outcomes if k == "sealed")
    assert resp.content == signed
    with pikepdf.open(__import__("io").BytesIO(resp.content)) as pdf:
        fields = [f for f in pdf.Root.AcroForm.Fields if f.get("/FT") == "/Sig"]
    assert len(fields) == 1
