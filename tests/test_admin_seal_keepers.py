"""印章保管人: an administrator names the posts that keep a unit's seal; from then on only they apply it,
and with the last one removed the unit's secretaries keep it again. Every change is audited."""
import pytest

from documents.files import actions as file_actions
from documents.models import SealKeeper
from office.errors import ActionError
from office.models import AuditEntry, Post
from tests.admin_support import errors, unit_admin
from tests.test_documents_support import dispatched, post_of

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def isolated_files(tmp_path, monkeypatch, settings):
    monkeypatch.setenv("YW_SEAL_DIR", str(tmp_path / "seals"))
    settings.MEDIA_ROOT = str(tmp_path / "media")


def test_it_names_a_keeper_who_alone_then_applies_the_seal(units, admin, city_secretary, city_leader,
                                                           city_office_secretary, client_for,
                                                           django_assert_max_num_queries):
    city = units["咸阳市"]
    doc = dispatched(city_secretary, city_leader, main=[units["秦都区"].id])
    assert client_for(city_secretary).post(f"/api/documents/files/seals/{city.id}").status_code == 201
    client = client_for(admin)
    with django_assert_max_num_queries(12):
        page = client.get(f"/documents/files/seals/{city.id}/keepers/").content.decode()
    assert "尚未指定保管人" in page and "王秘书" in page  # the secretaries keep it meanwhile
    keeper = post_of(city_office_secretary)  # a post of the city's 办公室 may keep the government's seal
    assert f'value="{keeper.id}"' in page
    r = client.post(f"/documents/files/seals/{city.id}/keepers/", {"op": "add", "post": keeper.id})
    assert r.status_code == 302
    assert SealKeeper.objects.filter(unit=city, post=keeper).exists()
    assert AuditEntry.objects.filter(action="seal.keeper_add", person_id_at=admin.id, object_id=str(city.id)).exists()
    with pytest.raises(ActionError, match="印章保管人"):
        file_actions.check_can_seal(city_secretary, doc)  # no longer a keeper
    post, _issuers, todo = file_actions.check_can_seal(city_office_secretary, doc)
    assert post.id == keeper.id and [u.id for u in todo] == [city.id]
    page = client.get(f"/documents/files/seals/{city.id}/keepers/").content.decode()
    assert "赵文书" in page.split('id="keepers"')[1].split("</ul>")[0]


def test_it_gives_the_seal_back_to_the_secretaries_when_the_last_keeper_goes(units, admin, city_secretary, city_leader,
                                                                            client_for):
    city = units["咸阳市"]
    leader_post = post_of(city_leader)
    client = client_for(admin)
    assert client.post(f"/documents/files/seals/{city.id}/keepers/", {"op": "add", "post": leader_post.id}).status_code == 302
    assert not file_actions._keeps(city_secretary, city) and file_actions._keeps(city_leader, city)
    r = client.post(f"/documents/files/seals/{city.id}/keepers/", {"op": "remove", "post": leader_post.id})
    assert r.status_code == 302 and not SealKeeper.objects.exists()
    assert file_actions._keeps(city_secretary, city) and not file_actions._keeps(city_leader, city)
    assert AuditEntry.objects.filter(action="seal.keeper_remove", person_id_at=admin.id).exists()


def test_it_refuses_a_keeper_from_elsewhere_twice_or_not_chosen_in_chinese(units, admin, county_secretary,
                                                                          city_secretary, client_for):
    city = units["咸阳市"]
    client = client_for(admin)
    r = client.post(f"/documents/files/seals/{city.id}/keepers/", {"op": "add", "post": post_of(county_secretary).id})
    assert r.status_code == 400 and "印章保管人须是本单位（或其办公室）在岗的人员。" in errors(r.content.decode())
    r = client.post(f"/documents/files/seals/{city.id}/keepers/", {"op": "add", "post": ""})
    assert r.status_code == 400 and errors(r.content.decode())
    mine = post_of(city_secretary)
    assert client.post(f"/documents/files/seals/{city.id}/keepers/", {"op": "add", "post": mine.id}).status_code == 302
    r = client.post(f"/documents/files/seals/{city.id}/keepers/", {"op": "add", "post": mine.id})
    assert r.status_code == 409 and "王秘书已是该单位的印章保管人。" in errors(r.content.decode())
    r = client.post(f"/documents/files/seals/{city.id}/keepers/", {"op": "remove", "post": post_of(county_secretary).id})
    assert r.status_code == 404
    assert list(SealKeeper.objects.values_list("post_id", flat=True)) == [mine.id]


def test_it_lets_a_unit_administrator_name_keepers_only_in_their_county(units, outsider, village_cadre2, client_for):
    client = client_for(unit_admin(units))
    qian = units["乾县"]
    r = client.post(f"/documents/files/seals/{qian.id}/keepers/", {"op": "add", "post": post_of(outsider).id})
    assert r.status_code == 302 and SealKeeper.objects.filter(unit=qian).count() == 1
    village = units["北街村"]
    r = client.post(f"/documents/files/seals/{village.id}/keepers/", {"op": "add", "post": post_of(village_cadre2).id})
    assert r.status_code == 403 and not SealKeeper.objects.filter(unit=village).exists()
    assert Post.objects.filter(person=outsider, active=True).count() == 1


def test_it_lists_the_seal_on_the_seals_page_of_its_keepers_only(units, admin, city_secretary, city_leader, client_for):
    city = units["咸阳市"]
    assert f'id="seal-{city.id}"' in client_for(city_secretary).get("/documents/files/seals/").content.decode()
    client_for(admin).post(f"/documents/files/seals/{city.id}/keepers/", {"op": "add", "post": post_of(city_leader).id})
    assert f'id="seal-{city.id}"' not in client_for(city_secretary).get("/documents/files/seals/").content.decode()
    assert f'id="seal-{city.id}"' in client_for(city_leader).get("/documents/files/seals/").content.decode()
