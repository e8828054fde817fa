"""行文规则: each refusal names the rule it applies."""
import pytest

from documents import rules
from tests.test_documents_support import BODY, call, draft

pytestmark = pytest.mark.django_db


def _create(client, **data):
    data.setdefault("title", "关于有关事项的通知")
    data.setdefault("doc_type", "通知")
    data.setdefault("body", BODY)
    return call(client, "post", "/api/documents/", data)


def test_it_refuses_skipping_a_level_unless_the_skipped_units_get_a_copy(units, city_secretary, client_for):
    c = client_for(city_secretary)
    status, body = _create(c, main=[f"under:{units['人民路街道'].id}:village"])
    assert status == 400
    assert "不得越级行文" in body["detail"] and "秦都区人民政府" in body["detail"] and "人民路街道办事处" in body["detail"]
    status, body = _create(c, main=[f"under:{units['人民路街道'].id}:village"],
                           cc=[units["秦都区"].id, units["人民路街道"].id])
    assert status == 201, body
    # or let the system add them
    status, body = _create(c, main=[f"under:{units['人民路街道'].id}:village"], add_skipped_cc=True)
    assert status == 201, body
    from documents.models import Document

    assert set(Document.objects.get(id=body["id"]).cc_recipients.values_list("short_name", flat=True)) == {"秦都区", "人民路街道"}


def test_it_sends_an_upward_document_to_exactly_one_superior(units, county_secretary, client_for):
    c = client_for(county_secretary)
    status, body = _create(c, doc_type="请示", title="关于申请防汛资金的请示",
                           body=[{"kind": "p", "text": "妥否，请批示。"}], main=[units["咸阳市"].id, units["市财政局"].id])
    assert status == 400 and "上行文只主送一个上级机关" in body["detail"]
    status, body = _create(c, doc_type="请示", title="关于申请防汛资金的请示", main=[units["乾县"].id])
    assert status == 400 and "只报送上级机关" in body["detail"]
    status, body = _create(c, doc_type="请示", title="关于申请防汛资金的请示", main=[units["咸阳市"].id],
                           cc=[units["人民路街道"].id])
    assert status == 400 and "不得抄送下级机关" in body["detail"]
    status, body = _create(c, doc_type="请示", title="关于申请防汛资金的请示", main=[units["咸阳市"].id],
                           cc=[units["市财政局"].id])
    assert status == 201, body


def test_it_refuses_a_report_that_carries_a_request(units, county_secretary, client_for):
    status, body = _create(client_for(county_secretary), doc_type="报告", title="关于防汛工作情况的报告",
                           main=[units["咸阳市"].id], body=[{"kind": "p", "text": "拟申请资金100万元，妥否，请批示。"}])
    assert status == 400 and "报告不得夹带请示事项" in body["detail"]


def test_it_refuses_directive_documents_from_a_department_to_a_lower_government(units, city_finance_secretary, client_for):
    c = client_for(city_finance_secretary)
    status, body = _create(c, main=[units["秦都区"].id])
    assert status == 400 and "政府部门不得向下级政府发布指令性公文" in body["detail"]
    status, body = _create(c, doc_type="函", title="关于核对财政数据的函", main=[units["秦都区"].id])
    assert status == 201, body
    status, body = _create(c, main=[units["区财政局"].id])  # to its counterpart below: allowed
    assert status == 201, body


def test_it_keeps_internal_offices_inside_their_unit(units, seed_small):
    from office.models import Unit, UnitKind

    section = Unit.objects.create(parent=units["市财政局"], kind=UnitKind.DEPARTMENT, name="咸阳市财政局预算科")
    section.refresh_path()
    section.save()
    with pytest.raises(rules.RuleViolation) as exc:
        rules.check_routing(sender=section, doc_type="函", main=[units["秦都区"]])
    assert exc.value.rule == "internal_no_outside" and "内设机构不得对外正式行文" in exc.value.message
    rules.check_routing(sender=section, doc_type="函", main=[units["市财政局"]])


def test_it_answers_only_a_request_with_an_approval(units, county_secretary, client_for):
    status, body = _create(client_for(county_secretary), doc_type="批复", title="关于同意设立社区的批复",
                           main=[units["人民路街道"].id])
    assert status == 400 and "批复只用于答复下级机关的请示" in body["detail"]


def test_it_refuses_sending_to_itself_and_to_unknown_or_dissolved_units(units, city_secretary, client_for):
    c = client_for(city_secretary)
    status, body = _create(c, main=[units["咸阳市"].id])
    assert status == 400 and "不得向本机关行文" in body["detail"]
    status, body = _create(c, main=[999999])
    assert status == 400 and "收文单位不存在" in body["detail"]
    status, body = _create(c, main=["under:abc:village"])
    assert status == 400 and "无法识别" in body["detail"]


def test_it_expands_a_whole_level_and_labels_the_main_recipients(units, city_secretary):
    doc = draft(city_secretary, main=[f"under:{units['乾县'].id}:town"], cc=[units["乾县"].id])
    assert sorted(doc.main_recipients.values_list("short_name", flat=True)) == ["城关街道", "薛录镇"]
    assert doc.main_recipients_label == "乾县各镇（街道）"
    doc = draft(city_secretary, main=[f"under:{units['咸阳市'].id}:all"])
    assert doc.main_recipients.count() == 2 + 4 + 7


@pytest.mark.parametrize("text", ["秘密★1年", "机密★", "密级：绝密", "【秘密】关于某事的通知", "绝密"])
def test_it_finds_classified_markings(text):
    assert rules.classified_marking(text) in ("秘密", "机密", "绝密")


@pytest.mark.parametrize("text", ["关于保守国家秘密的通知", "关于机密文件交接的函", "秘密地进行"])
def test_it_lets_ordinary_words_about_secrets_pass(text):
    assert rules.classified_marking(text) is None


# --- the cases issue 11 found: directive and downward documents sent up or across ---------------
def test_it_refuses_a_towns_order_to_a_county_not_its_own(units, town_secretary, client_for):
    status, body = _create(client_for(town_secretary), doc_type="命令", title="关于有关事项的命令",
                           main=[units["乾县"].id])
    assert status == 400 and "下行文只发给本机关管辖范围内的单位" in body["detail"] and "乾县人民政府" in body["detail"]


def test_it_refuses_a_towns_notice_to_a_village_of_another_county(units, town_secretary, client_for):
    status, body = _create(client_for(town_secretary), main=[units["东街社区"].id])
    assert status == 400 and "下行文只发给本机关管辖范围内的单位" in body["detail"]


@pytest.mark.parametrize("doc_type", ["命令", "决定"])
def test_it_refuses_a_villages_directive_upward_even_with_the_skipped_town_copied(doc_type, units, village_cadre,
                                                                                  client_for):
    c = client_for(village_cadre)
    title = f"关于有关事项的{doc_type}"
    for extra in ({}, {"add_skipped_cc": True}, {"cc": [units["人民路街道"].id]}):
        status, body = _create(c, doc_type=doc_type, title=title, main=[units["秦都区"].id], **extra)
        assert status == 400 and "下行文只发给本机关管辖范围内的单位" in body["detail"], (extra, body)
    status, body = _create(c, doc_type=doc_type, title=title, main=[units["人民路街道"].id])
    assert status == 400 and "下行文只发给本机关管辖范围内的单位" in body["detail"]


def test_it_lets_a_village_report_past_its_town_only_with_the_town_copied(units, village_cadre, client_for):
    c = client_for(village_cadre)
    status, body = _create(c, doc_type="报告", title="关于有关情况的报告", main=[units["秦都区"].id])
    assert status == 400 and "不得越级行文" in body["detail"] and "人民路街道办事处" in body["detail"]
    status, body = _create(c, doc_type="报告", title="关于有关情况的报告", main=[units["秦都区"].id], add_skipped_cc=True)
    assert status == 201, body


def test_it_rechecks_a_legal_document_when_it_is_edited(units, town_secretary, client_for):
    c = client_for(town_secretary)
    status, body = _create(c, doc_type="函", title="关于商请协助的函", main=[units["乾县"].id])
    assert status == 201, body
    status, body = call(c, "patch", f"/api/documents/{body['id']}", {"doc_type": "命令", "title": "关于有关事项的命令"})
    assert status == 400 and "下行文只发给本机关管辖范围内的单位" in body["detail"]


# --- the compose page: the 越级 copy is offered only where it is allowed, never ticked -------------
def _preview(client, main, doc_type, cc=""):
    resp = client.get("/api/documents/recipients/preview", {"main": main, "cc": cc, "doc_type": doc_type})
    assert resp.status_code == 200, resp.content
    return resp.json()


def test_it_offers_the_skip_copy_only_where_the_rules_allow_a_skip(units, village_cadre, city_secretary, client_for):
    village = client_for(village_cadre)
    data = _preview(village, str(units["秦都区"].id), "报告")
    assert [u["name"] for u in data["skipped"]] == ["人民路街道办事处"] and not data["problem"]
    data = _preview(village, str(units["秦都区"].id), "命令")
    assert data["skipped"] == [] and "下行文只发给本机关管辖范围内的单位" in data["problem"]
    data = _preview(village, str(units["人民路街道"].id), "报告")
    assert data["skipped"] == [] and not data["problem"]
    city = client_for(city_secretary)
    data = _preview(city, f"under:{units['人民路街道'].id}:village", "通知")
    assert [u["name"] for u in data["skipped"]] == ["秦都区人民政府", "人民路街道办事处"]
    data = _preview(city, str(units["乾县"].id), "函")
    assert data["skipped"] == [] and not data["problem"]


def test_the_compose_page_shows_the_skip_copy_unticked_and_hidden_until_needed(city_secretary, client_for):
    import re

    html = client_for(city_secretary).get("/documents/new/").content.decode()
    label = re.search(r'<label[^>]*id="skip-cc-option"[^>]*>\s*<input[^>]*>', html).group(0)
    assert "hidden" in label.split(">")[0]
    assert 'name="add_skipped_cc"' in label and "checked" not in label
