"""Names and titles typed by people cannot inject markup into pages or formulas into CSV exports."""
import csv
import io

import pytest

from office.csvsafe import safe_cell
from tests.meetings_support import schedule
from tests.test_documents_support import dispatched

pytestmark = pytest.mark.django_db

HOSTILE_UNIT = '人民路社区"><script>alert(1)</script><x a="'


def test_it_escapes_a_unit_name_with_quotes_and_brackets_in_the_attendance_chart(client_for, county_secretary,
                                                                                  village_cadre, units):
    from meetings.actions import do_participant_joined
    from office.models import Unit

    Unit.objects.filter(id=units["人民路社区"].id).update(name=HOSTILE_UNIT)
    meeting = schedule(county_secretary, kind="training", villages_of=[units["人民路街道"].id])
    do_participant_joined(village_cadre, meeting, "video", session_key="t")
    page = client_for(county_secretary).get(f"/meetings/{meeting.id}/attendance/").content.decode()
    assert "<script>alert(1)</script>" not in page and '"><x a="' not in page
    assert 'data-unit="人民路社区&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;x a=&quot;"' in page
    svg = client_for(county_secretary).get(f"/meetings/{meeting.id}/attendance.svg").content.decode()
    assert "<script>" not in svg and "&lt;script&gt;" in svg


@pytest.mark.parametrize("value, expected", [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"), ("+1+1", "'+1+1"), ("-2+3", "'-2+3"),
    ("@SUM(A1)", "'@SUM(A1)"), ("\tcmd", "'\tcmd"), ("\rcmd", "'\rcmd"), ("-5", "-5"), ("12.5", "12.5"),
    (" =1+1", "' =1+1"), ("关于做好冬季防火工作的通知", "关于做好冬季防火工作的通知"), (3, 3),
])
def test_it_neutralises_formula_prefixes_in_a_cell(value, expected):
    assert safe_cell(value) == expected


def test_it_exports_the_attendance_csv_without_formulas(client_for, county_secretary, village_cadre, units):
    from meetings.actions import do_participant_joined
    from office.models import Person, Unit

    Unit.objects.filter(id=units["人民路社区"].id).update(name="=1+1")
    Person.objects.filter(id=village_cadre.id).update(display_name="@SUM(A1:A9)")
    meeting = schedule(county_secretary, kind="training", villages_of=[units["人民路街道"].id])
    do_participant_joined(village_cadre, meeting, "video", session_key="t")
    text = client_for(county_secretary).get(f"/meetings/{meeting.id}/attendance.csv").content.decode("utf-8-sig")
    row = [r for r in csv.reader(io.StringIO(text)) if r and "SUM" in r[1]][0]
    assert row[0] == "'=1+1" and row[1] == "'@SUM(A1:A9)"


def test_it_exports_the_tracking_csv_without_formulas(client_for, county_secretary, county_leader, units):
    from documents.models import Document, Receipt

    doc = dispatched(county_secretary, county_leader, main=[units["人民路街道"].id])
    Document.objects.filter(id=doc.id).update(number="", title='=HYPERLINK("http://evil","点击")')
    Receipt.objects.filter(document_id=doc.id).update(return_reason="-2+3")
    res = client_for(county_secretary).get(f"/api/documents/{doc.id}/tracking.csv")
    assert res.status_code == 200
    rows = list(csv.reader(io.StringIO(res.content.decode("utf-8-sig"))))
    assert not any(cell.lstrip().startswith(("=", "+", "-", "@")) for row in rows for cell in row)
    assert any(cell == "'-2+3" for row in rows for cell in row)
