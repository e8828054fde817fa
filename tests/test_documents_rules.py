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
