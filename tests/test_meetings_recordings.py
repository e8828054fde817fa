"""Recordings: listed with the meeting, played in the browser with seeking (HTTP Range → 206)."""
import pytest
from asgiref.sync import sync_to_async

from office.errors import ActionError
from tests.meetings_support import schedule, sent_events, write_webm  # noqa: F401

pytestmark = pytest.mark.django_db


def stored(recording):
    from office import storage

    return storage.read(recording.path)


@pytest.fixture
def recorded(any_storage, settings, county_secretary, village_cadre, units):
    """A recording the SFU wrote into its spool folder and handed over: now in storage (the local
    disk, or the SeaweedFS bucket), the spool copy gone."""
    import os

    from meetings.actions import do_participant_joined, do_recording_saved, recording_path

    meeting = schedule(county_secretary, unit_ids=[units["人民路社区"].id], record=True)
    do_participant_joined(county_secretary, meeting, "video")
    path = recording_path(meeting)
    assert path.endswith(".webm") and str(settings.YW_SPOOL_DIR) in path
    write_webm(path)
    recording = do_recording_saved(meeting.id, path, duration_seconds=1.0, person=county_secretary.id)
    assert not os.path.exists(path) and recording.path == f"meetings/{meeting.id}/recordings/{os.path.basename(path)}"
    if any_storage == "s3":
        assert not os.path.exists(settings.MEDIA_ROOT)  # nothing under MEDIA_ROOT with object storage
    return meeting, recording


def test_it_lists_a_saved_recording_with_the_meeting_and_tells_the_room(recorded, client_for, village_cadre):
    meeting, recording = recorded
    assert recording.size_bytes > 500 and recording.recorded_by_id == meeting.host_id
    rows = client_for(village_cadre).get(f"/api/meetings/{meeting.id}/recordings").json()
    assert [r["id"] for r in rows] == [recording.id]
    assert rows[0]["file_url"] == f"/meetings/{meeting.id}/recordings/{recording.id}/file"
    detail = client_for(village_cadre).get(f"/meetings/{meeting.id}/").content.decode()
    assert f"/meetings/{meeting.id}/recordings/{recording.id}/" in detail
    page = client_for(village_cadre).get(f"/meetings/{meeting.id}/recordings/{recording.id}/").content.decode()
    assert '<video id="playback"' in page


def test_it_serves_byte_ranges_with_206_so_the_player_can_seek(recorded, client_for, village_cadre):
    meeting, recording = recorded
    data = stored(recording)
    size = len(data)
    client = client_for(village_cadre)
    url = f"/meetings/{meeting.id}/recordings/{recording.id}/file"

    full = client.get(url)
    assert full.status_code == 200 and full["Accept-Ranges"] == "bytes" and full["Content-Type"] == "video/webm"
    assert b"".join(full.streaming_content) == data

    part = client.get(url, HTTP_RANGE="bytes=0-99")
    assert part.status_code == 206 and part["Content-Range"] == f"bytes 0-99/{size}"
    assert part["Content-Length"] == "100" and b"".join(part.streaming_content) == data[:100]

    tail = client.get(url, HTTP_RANGE="bytes=200-")
    assert tail.status_code == 206 and b"".join(tail.streaming_content) == data[200:]
    assert tail["Content-Range"] == f"bytes 200-{size - 1}/{size}"

    suffix = client.get(url, HTTP_RANGE="bytes=-50")
    assert suffix.status_code == 206 and b"".join(suffix.streaming_content) == data[-50:]

    beyond = client.get(url, HTTP_RANGE=f"bytes={size}-")
    assert beyond.status_code == 416 and beyond["Content-Range"] == f"bytes */{size}"
    garbage = client.get(url, HTTP_RANGE="pages=1-2")
    assert garbage.status_code == 416


def test_it_lets_only_those_who_could_see_the_meeting_play_it(recorded, client_for, outsider, village_cadre2):
    meeting, recording = recorded
    for person in (outsider, village_cadre2):
        res = client_for(person).get(f"/meetings/{meeting.id}/recordings/{recording.id}/file",
                                     HTTP_RANGE="bytes=0-10")
        assert res.status_code == 403 and "未被邀请" in res.content.decode()
    assert client_for(outsider).get(f"/api/meetings/{meeting.id}/recordings").status_code == 403
    other = schedule(meeting.host, unit_ids=[meeting.invitations.first().unit_id])
    wrong = client_for(meeting.host).get(f"/meetings/{other.id}/recordings/{recording.id}/file")
    assert wrong.status_code == 404


def test_it_refuses_a_recording_path_outside_the_spool_folder(recorded, tmp_path):
    from meetings.actions import do_recording_saved

    meeting, _recording = recorded
    stray = tmp_path / "elsewhere.webm"
    stray.write_bytes(b"\x1a\x45\xdf\xa3")
    with pytest.raises(ActionError, match="录制缓存目录"):
        do_recording_saved(meeting, str(stray))
    with pytest.raises(ActionError, match="不存在"):
        do_recording_saved(meeting, str(tmp_path / "spool" / "recordings" / "missing.webm"))


def test_it_answers_404_when_the_file_is_gone(recorded, client_for, village_cadre):
    from django.core.files.storage import default_storage

    from office.storage import HashingMixin

    meeting, recording = recorded
    default_storage.exists(recording.path)
    super(HashingMixin, default_storage._wrapped).delete(recording.path)  # behind its back: the record stays
    res = client_for(village_cadre).get(f"/meetings/{meeting.id}/recordings/{recording.id}/file")
    assert res.status_code == 404 and "不在服务器上" in res.content.decode()


@pytest.mark.django_db(transaction=True)
async def test_it_streams_a_range_chunk_by_chunk_under_asgi_instead_of_reading_the_file_whole(recorded,
                                                                                               village_cadre):
    from django.test import AsyncClient

    meeting, recording = recorded
    data = await sync_to_async(stored)(recording)
    client = AsyncClient()
    await client.aforce_login(village_cadre)
    url = f"/meetings/{meeting.id}/recordings/{recording.id}/file"
    res = await client.get(url, headers={"Range": "bytes=100-299"})
    assert res.status_code == 206 and res.is_async  # an async iterator: daphne sends as it reads
    assert b"".join([chunk async for chunk in res.streaming_content]) == data[100:300]
    whole = await client.get(url)
    assert whole.status_code == 200 and whole.is_async
    assert b"".join([chunk async for chunk in whole.streaming_content]) == data
