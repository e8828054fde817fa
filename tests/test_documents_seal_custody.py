"""用印: only the seal's keepers apply it, the button is offered only when it can work, and a 命令
(its own layout) seals like any other document."""
import pytest

from tests.test_documents_support import dispatched

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def isolated_files(tmp_path, monkeypatch, settings):
    monkeypatch.setenv("YW_SEAL_DIR", str(tmp_path / "seals"))
    settings.MEDIA_ROOT = str(tmp_path / "media")


def _make_seal(client, unit_id):
    resp = client.post(f"/api/documents/files/seals/{unit_id}")
    assert resp.status_code == 201, resp.content


def _page(client, doc):
    resp = client.get(f"/documents/{doc.id}/")
    assert resp.status_code == 200
    return resp.content.decode()


def test_it_seals_an_order(city_secretary, city_leader, units, client_for):
    doc = dispatched(city_secretary, city_leader, doc_type="命令", title="咸阳市人民政府令",
                     main=[units["秦都区"].id], body=[{"kind": "p", "text": "《咸阳市城市管理办法》已经市政府常务会议通过，现予公布。"}])
    client = client_for(city_secretary)
    _make_seal(client, doc.unit_id)
    sealed = client.post(f"/api/documents/files/{doc.id}/seal")
    assert sealed.status_code == 200, sealed.content[:500]
    assert client.get(f"/api/documents/files/{doc.id}/pdf")["X-Document-Sealed"] == "1"


def test_it_lets_only_the_seals_keepers_apply_it_not_the_administrator(city_secretary, city_leader, admin, units,
                                                                      client_for):
    doc = dispatched(city_secretary, city_leader, main=[units["秦都区"].id])
    _make_seal(client_for(city_secretary), doc.unit_id)
    by_admin = client_for(admin).post(f"/api/documents/files/{doc.id}/seal")
    assert by_admin.status_code in (403, 404)
    page = client_for(admin).get(f"/documents/{doc.id}/")
    assert page.status_code == 404 or 'id="seal-doc"' not in page.content.decode()
    assert client_for(city_secretary).post(f"/api/documents/files/{doc.id}/seal").status_code == 200


def test_it_offers_no_seal_button_without_a_seal_or_once_issued(city_secretary, city_leader, units, client_for):
    doc = dispatched(city_secretary, city_leader, main=[units["秦都区"].id])
    client = client_for(city_secretary)
    html = _page(client, doc)
    assert 'id="seal-doc"' not in html and 'id="seal-missing"' in html
    _make_seal(client, doc.unit_id)
    assert 'id="seal-doc"' in _page(client, doc)
    assert client.post(f"/api/documents/files/{doc.id}/seal").status_code == 200
    html = _page(client, doc)
    assert 'id="seal-doc"' not in html and "seal-missing" not in html
