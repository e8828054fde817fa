"""Helpers shared by the tests/test_meetings_*.py modules (scheduling a meeting, catching events)."""
import datetime
import fractions

import pytest
from django.utils import timezone


def post_of(person):
    from office.models import Post

    return Post.objects.active().filter(person_id=person.id).select_related("unit").first()


def schedule(host, *, start_in=datetime.timedelta(0), minutes=60, **kwargs):
    """Schedules through the real action, as the host's current post (starting now unless told)."""
    from meetings.actions import do_schedule

    starts = timezone.now() + start_in
    kwargs.setdefault("title", "基层治理工作会议")
    return do_schedule(host, post_of(host), starts_at=starts, ends_at=starts + datetime.timedelta(minutes=minutes),
                       **kwargs)


class SentEvents(list):
    """Every send_event() call made by meetings.actions: (event, people, units)."""

    def of(self, op):
        return [e for e in self if e[0].get("op") == op]

    def people_for(self, op):
        return set().union(*[set(e[1]) for e in self.of(op)]) if self.of(op) else set()


@pytest.fixture
def sent_events(monkeypatch):
    import meetings.actions as actions

    sent = SentEvents()
    real = actions.send_event

    def recording(event, *, people=(), units=()):
        sent.append((event, sorted(set(people)), sorted(set(units))))
        return real(event, people=people, units=units)

    monkeypatch.setattr(actions, "send_event", recording)
    return sent


def write_webm(path, frames=15, rate=15):
    """A small real WebM (VP8, 160×120, `frames` frames at `rate` a second) made with PyAV: what the
    SFU's recorder leaves behind."""
    import av

    with av.open(str(path), "w", format="webm") as out:
        stream = out.add_stream("libvpx", rate=rate)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for i in range(frames):
            frame = av.VideoFrame(160, 120, "yuv420p")
            for n, plane in enumerate(frame.planes):
                plane.update(bytes([(i * 16 + n * 60) % 255]) * plane.buffer_size)
            frame.pts, frame.time_base = i, fractions.Fraction(1, rate)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
