"""Shared by tests/test_training_*.py: a training with a 100-second recording."""
import datetime

import pytest
from django.utils import timezone

from tests.meetings_support import schedule


def record(meeting, host, seconds=100.0):
    """A recording handed over by the SFU (the bytes need not be a real WebM here: nobody plays them)."""
    from meetings.actions import do_recording_saved, recording_path

    path = recording_path(meeting)
    with open(path, "wb") as f:
        f.write(b"\x1aE\xdf\xa3" + b"\0" * 64)
    return do_recording_saved(meeting.id, path, duration_seconds=seconds, person=host.id)


@pytest.fixture
def training(county_secretary, units):
    """A training of 人民路街道's villages (人民路社区, 北街村), started and recorded."""
    from meetings.actions import do_participant_joined

    meeting = schedule(county_secretary, kind="training", title="农村人居环境整治培训",
                       villages_of=[units["人民路街道"].id], record=True)
    do_participant_joined(county_secretary, meeting, "video")
    meeting.refresh_from_db()
    return meeting


@pytest.fixture
def recording(training, county_secretary):
    return record(training, county_secretary)


def later(seconds):
    return timezone.now() + datetime.timedelta(seconds=seconds)


@pytest.fixture
def training_events(monkeypatch):
    """Every send_event() call made by meetings.training.actions: (event, people, units)."""
    import meetings.training.actions as actions
    from tests.meetings_support import SentEvents

    sent = SentEvents()
    real = actions.send_event

    def recording(event, *, people=(), units=()):
        sent.append((event, sorted(set(people)), sorted(set(units))))
        return real(event, people=people, units=units)

    monkeypatch.setattr(actions, "send_event", recording)
    return sent
