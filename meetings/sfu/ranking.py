"""What each viewer receives: last-N ranking of microphones and cameras, and the choice per viewer.

In a room of more than AUDIO_LAST_N + 1 microphones, a viewer receives only the AUDIO_LAST_N
most recent speakers' (unmuted) microphones, and of more than VIDEO_LAST_N other cameras only
VIDEO_LAST_N (the presenters', then the latest speakers'), re-chosen on every speaker tick: a
bounded number of streams per viewer however big the training. A viewer in "small" mode gets
the presenters' small tracks and no other camera.

Pure functions over the room's sessions: ``may_present(session)`` says who presents.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Optional

AUDIO_LAST_N = 4  # a viewer in a bigger room receives the microphones of the 4 latest speakers
VIDEO_LAST_N = 12  # ... and at most 12 cameras: the presenters' and the latest speakers'

MayPresent = Callable[[Any], bool]


class Ranking(NamedTuple):
    """Who a big room forwards (:func:`rank`): the sessions with a microphone, the audible
    order (AUDIO_LAST_N + 1 of them), the sessions with a camera, the shown order
    (VIDEO_LAST_N + 1, presenters first). One viewer's share leaves out its own."""

    mics: set
    audible: list
    cams: set
    visible: list

    def forwarded(self) -> tuple:
        """What decides every viewer's share: a viewer gets the first N of an order, or the
        first N + 1 but itself. Equal between two rankings: no viewer's share changed."""
        return (frozenset(self.audible[:AUDIO_LAST_N]), frozenset(self.audible),
                frozenset(self.visible[:VIDEO_LAST_N]), frozenset(self.visible))


def is_big(sessions: int) -> bool:
    """Whether a room of this many sessions forwards a chosen few (last-N), not everyone."""
    return sessions > min(AUDIO_LAST_N, VIDEO_LAST_N) + 1


def by_recency(sessions: dict, chosen: list, last_spoke: dict, may_present: MayPresent,
               presenters_first: bool) -> list:
    """``chosen`` ordered by who spoke last (presenters before or after that), then by the
    order of joining (the order of ``sessions``)."""
    order = {sid: i for i, sid in enumerate(sessions)}

    def key(s: Any) -> tuple:
        recency, presenter = -last_spoke.get(s.id, 0.0), not may_present(s)
        return ((presenter, recency) if presenters_first else (recency, presenter)) + (order[s.id],)

    return sorted(chosen, key=key)


def rank(sessions: dict, last_spoke: dict, may_present: MayPresent) -> Ranking:
    """Who a big room forwards, ranked once for every viewer of a resync. Microphones: the most
    recent speakers first (then presenters, then the order of joining), unmuted ones only,
    AUDIO_LAST_N + 1 of them (a viewer never gets their own); a voice stays until AUDIO_LAST_N
    others have spoken after it, so the choice does not flicker."""
    everyone = list(sessions.values())
    live = [s for s in everyone if "mic" in s.publications and not s.publications["mic"].paused]
    cams = [s for s in everyone if "camera" in s.publications]
    audible = by_recency(sessions, live, last_spoke, may_present, presenters_first=False)
    visible = by_recency(sessions, cams, last_spoke, may_present, presenters_first=True)
    return Ranking(mics={s.id for s in everyone if "mic" in s.publications},
                   audible=[s.id for s in audible[:AUDIO_LAST_N + 1]],
                   cams={s.id for s in cams},
                   visible=[s.id for s in visible[:VIDEO_LAST_N + 1]])


def audible_for(viewer: Any, ranking: Ranking) -> Optional[set]:
    """The microphones ``viewer`` receives: every one in a small room (None), else the
    AUDIO_LAST_N chosen by :func:`rank` — so a viewer in a training of 300 gets a few audio
    streams, not 299 (Jitsi's and LiveKit's rule for big rooms)."""
    if len(ranking.mics - {viewer.id}) <= AUDIO_LAST_N:
        return None
    return set([sid for sid in ranking.audible if sid != viewer.id][:AUDIO_LAST_N])


def visible_for(viewer: Any, ranking: Ranking) -> Optional[set]:
    """The cameras ``viewer`` receives: every one up to VIDEO_LAST_N (None), else the
    presenters' and then the most recent speakers', VIDEO_LAST_N in all."""
    if len(ranking.cams - {viewer.id}) <= VIDEO_LAST_N:
        return None
    return set([sid for sid in ranking.visible if sid != viewer.id][:VIDEO_LAST_N])


def wanted(viewer: Any, sessions: dict, ranking: Ranking, may_present: MayPresent) -> list:
    """(owner session id, role, publication) the viewer should receive."""
    out = []
    audible = audible_for(viewer, ranking)
    visible = visible_for(viewer, ranking) if viewer.mode == "video" else None
    for other in sessions.values():
        if other.id == viewer.id:
            continue
        pubs = other.publications
        if "mic" in pubs and (audible is None or other.id in audible):
            out.append((other.id, "audio", pubs["mic"]))
        if viewer.mode != "audio":
            video = None
            if viewer.mode == "small":
                # a weak line: the presenters' small tracks instead of anyone's camera (a
                # presenter who sends none is still shown, by the camera)
                video = pubs.get("small")
                if video is None and may_present(other):
                    video = pubs.get("camera")
            elif "camera" in pubs:
                video = pubs["camera"] if visible is None or other.id in visible else None
            elif "small" in pubs:
                video = pubs["small"]
            if video is not None:
                out.append((other.id, "video", video))
            if "screen" in pubs:
                out.append((other.id, "screen", pubs["screen"]))
    return out
