"""Who may use the administrator-ish functions, as a table: the system administrator (an administrator
post at the city) and the break-glass superuser everything prefecture-wide; a unit's administrator
(秦都区's, 北街村's) only units of their own subtree and nothing of the archive beyond what their unit's
people see; a secretary and an outsider (乾县) none of it. Every pair is requested over HTTP: allowed
gives the page, refused gives the shell's 403/404 page or a Chinese JSON 403, never the content."""
import json
import re

import pytest

from documents.archive import assemble
from documents.archive.models import CheckRun, CheckStage, Fonds
from documents.files import actions as file_actions
from documents.signing import ca
from office.models import Person
from tests.admin_support import PASSWORD, unit_admin
from tests.archive_support import isolated_files  # noqa: F401  (each test keeps its seals apart)

pytestmark = pytest.mark.django_db

SYSTEM = {"system_admin", "superuser"}
LISTED = "listed"
ZIP, PNG = "PK\x03\x04", "PNG\r\n\x1a"  # what a transfer bag and a seal picture begin with
QINDU, QIAN = "秦都区全宗（测）", "乾县全宗（测）"  # the 全宗 names, shown only on their pages
PERSONAS = ["system_admin", "superuser", "county_admin", "village_admin", "county_secretary", "outsider"]


def _table(units, runs):
    """(what, method, path, data, allowed personas, text only the allowed see[, LISTED: a search whose
    refusal is a page without the unit])."""
    inside, outside = units["北街村"], units["薛录村"]  # 秦都区's village; 乾县's
    return [
        ("目录同步页", "get", "/office/ldap/sync/", None, SYSTEM, 'id="no-sync"'),
        ("目录同步提交", "post", "/office/ldap/sync/", {}, SYSTEM, 'id="no-sync"'),
        ("秦都区全宗的归档设置", "get", "/documents/archive/settings/?fonds=Z101", None, SYSTEM, QINDU),
        ("乾县全宗的归档设置", "get", "/documents/archive/settings/?fonds=Z106", None, SYSTEM, QIAN),
        ("秦都区全宗的目录", "get", "/documents/archive/catalogue/?fonds=Z101", None,
         {"county_admin", "county_secretary"}, QINDU),
        ("乾县全宗的目录", "get", "/documents/archive/catalogue/?fonds=Z106", None, {"outsider"}, QIAN),
        ("秦都区全宗的管理页（含完整性告警）", "get", "/documents/archive/manage/?fonds=Z101", None,
         {"county_admin", "county_secretary"}, QINDU),
        ("乾县全宗的管理页（含完整性告警）", "get", "/documents/archive/manage/?fonds=Z106", None, {"outsider"}, QIAN),
        ("秦都区全宗的移交包导出", "post", "/documents/archive/export/", {"fonds": "Z101"}, set(), ZIP),
        ("乾县全宗的移交包导出", "post", "/documents/archive/export/", {"fonds": "Z106"}, set(), ZIP),
        ("乾县全宗的检测报告", "get", f"/documents/archive/reports/{runs['fonds'].id}/", None, {"outsider"},
         runs["fonds"].scope),
        ("无全宗的接收包检测报告", "get", f"/documents/archive/reports/{runs['bag'].id}/", None, SYSTEM,
         runs["bag"].scope),
        ("检测报告列表中的无全宗接收包", "get", "/documents/archive/reports/", None, SYSTEM, runs["bag"].scope, LISTED),
        ("修改乾县全宗（接口）", "patch", "/api/documents/archive/fonds/Z106", {"name": "乾县全宗（改）"}, SYSTEM, None),
        ("北街村的归档设置（接口）", "post", f"/api/documents/archive/settings/{inside.id}", {"request_with_reply": False},
         SYSTEM, None),
        ("为北街村设立全宗（接口）", "post", "/api/documents/archive/fonds", {"unit_id": inside.id, "code": "Z9"},
         SYSTEM, None),
        ("检索本辖区的印章", "get", "/documents/files/seals/?q=北街", None, SYSTEM | {"county_admin", "village_admin"},
         f'id="seal-{inside.id}"', LISTED),
        ("检索外县的印章", "get", "/documents/files/seals/?q=薛录村", None, SYSTEM, f'id="seal-{outside.id}"', LISTED),
        ("本辖区的印章保管人", "get", f"/documents/files/seals/{inside.id}/keepers/", None,
         SYSTEM | {"county_admin", "village_admin"}, inside.name),
        ("外县的印章保管人", "get", f"/documents/files/seals/{outside.id}/keepers/", None, SYSTEM, outside.name),
        ("本县另一村的印章图像", "get", f"/api/documents/files/seals/{units['人民路社区'].id}/picture.png", None,
         SYSTEM | {"county_admin"}, PNG),
        ("外县的印章图像", "get", f"/api/documents/files/seals/{units['东街社区'].id}/picture.png", None, SYSTEM, PNG),
        ("本辖区单位的管理页", "get", f"/office/admin/units/{inside.id}/", None,
         SYSTEM | {"county_admin", "village_admin"}, inside.name),
        ("外县单位的管理页", "get", f"/office/admin/units/{outside.id}/", None, SYSTEM, outside.name),
        ("为本辖区单位制作印章", "post", "/documents/files/seals/", {"unit": inside.id},
         SYSTEM | {"county_admin", "village_admin"}, None),
        ("为外县单位制作印章（接口）", "post", f"/api/documents/files/seals/{outside.id}", {}, SYSTEM, None),
    ]


def _persona(name, units, seed_small, request):
    if name == "system_admin":
        return unit_admin(units, short_name="咸阳市", username="city_admin", display_name="市系统管理员")
    if name == "superuser":
        return Person.objects.create_superuser("root", password=PASSWORD, display_name="应急管理员")
    if name == "county_admin":
        return request.getfixturevalue("county_admin")
    if name == "village_admin":
        return unit_admin(units, short_name="北街村", username="beijie_admin", display_name="北街村管理员")
    return seed_small[1][name]


def _chinese(text):
    return re.search(r"[\u4e00-\u9fff]", text) is not None


@pytest.mark.parametrize("who", PERSONAS)
def test_it_allows_each_administrator_function_exactly_to_those_in_scope(who, units, seed_small, request,
                                                                        client_for):
    assemble.ensure_fonds()
    Fonds.objects.filter(code="Z101").update(name=QINDU)
    Fonds.objects.filter(code="Z106").update(name=QIAN)
    admin = seed_small[1]["admin"]
    for short in ("人民路社区", "东街社区"):
        file_actions.do_create_seal(person=admin, unit=units[short])
    runs = {"fonds": CheckRun.objects.create(stage=CheckStage.TRANSFER, fonds=Fonds.objects.get(code="Z106"),
                                             scope="乾县移交检测甲", report={"items": []}),
            "bag": CheckRun.objects.create(stage=CheckStage.RECEIPT, scope="外来接收包乙", report={"items": []})}
    client = client_for(_persona(who, units, seed_small, request))
    for what, method, path, data, allowed, secret, *listed in _table(units, runs):
        if method == "get":
            r = client.get(path)
        elif method == "patch":
            r = client.patch(path, data, content_type="application/json")
        elif path.startswith("/api/"):
            r = client.post(path, data, content_type="application/json")
        else:
            r = client.post(path, data)
        body = r.content.decode(errors="replace")
        if r["Content-Type"].startswith("application/json"):
            body = json.dumps(r.json(), ensure_ascii=False)
        if who in allowed:
            assert r.status_code in (200, 201, 302), (what, r.status_code)
            if secret:
                assert secret in body, what
        elif listed:
            assert r.status_code == 200 and secret not in body, what
        else:
            assert r.status_code in (403, 404), (what, r.status_code)
            assert _chinese(body), what  # a Chinese refusal, in the shell or as JSON
            if secret:
                assert secret not in body, what
            if path.startswith("/api/"):
                assert r["Content-Type"].startswith("application/json"), what
            else:
                assert "<nav" in body, what  # the suite's shell, with its navigation
    made = {u: ca.has_seal(units[u].id) for u in ("北街村", "薛录村")}
    assert made == {"北街村": who in SYSTEM | {"county_admin", "village_admin"}, "薛录村": who in SYSTEM}
    assert Fonds.objects.get(code="Z106").name == ("乾县全宗（改）" if who in SYSTEM else QIAN)
    assert Fonds.objects.filter(code="Z9", unit=units["北街村"]).exists() == (who in SYSTEM)
