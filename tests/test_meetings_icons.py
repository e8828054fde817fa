"""The meeting and training pages draw their icons as inline SVG with a spoken label, never as emoji
(a machine without an emoji font shows a box; a screen reader reads the emoji's own name)."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EMOJI = re.compile("[\u2600-\u27bf\u2b00-\u2bff\u25a0-\u25ff\U0001f000-\U0001faff\ufe0f]")


def test_it_has_no_emoji_in_the_meeting_templates_and_scripts():
    files = sorted((ROOT / "frontend" / "templates" / "meetings").glob("*.html"))
    files += sorted((ROOT / "frontend" / "static" / "meetings").glob("*.js"))
    assert len(files) > 10
    found = [f"{path.name}:{n}: {line.strip()[:60]}" for path in files
             for n, line in enumerate(path.read_text().splitlines(), 1)
             if EMOJI.search(line) and not line.lstrip().startswith(("//", "{#"))]
    assert found == []


@pytest.mark.django_db
def test_it_labels_the_hand_and_check_in_icons_of_the_roster(client_for, county_secretary, village_cadre, units):
    from meetings.actions import do_participant_joined, do_raise_hand
    from tests.meetings_support import schedule

    meeting = schedule(county_secretary, villages_of=[units["人民路街道"].id])
    do_participant_joined(county_secretary, meeting, "video")
    do_participant_joined(village_cadre, meeting, "video")
    do_raise_hand(village_cadre, meeting, True)
    html = client_for(county_secretary).get(f"/meetings/{meeting.id}/roster/").content.decode()
    assert re.search(r'<svg class="icon icon-hand"[^>]*role="img" aria-label="举手"><title>举手</title>', html)
    assert "✋" not in html and "✔" not in html
