"""The meeting signalling websocket, ws/meetings/<meeting_id>/ (thin).

Authenticates through scope["user"], asks meetings.actions whether the person may join,
reports attendance, and relays JSON signalling to the meeting's SFU room (in this
process, or in an SFU worker through the channel layer: meetings/sfu/worker.py).

Client → server: {"type": "join", "mode": "video|small|audio"} first; then the room's
messages (meetings/sfu/room.py: offer/answer/candidate/renegotiate/mode/mute/hand) and
{"type": "host", "action": ..., "target": person_id} for the host (checked with
meetings.actions.do_host_command, which also records it). Server → client: the room's
messages, and {"type": "error", "code", "message"} for anything refused.

Language: the room (maybe in another process) knows no user, so its texts are Chinese msgids
(gettext_noop) with optional "msgid"/"params"; every frame's "message" is translated here into the
connected person's language (office.i18n.language_from_scope: language cookie, else the
browser's Accept-Language, as on pages) just before it goes out on the websocket. The actions
called from here run under the same language, so their refusals arrive translated too.
"""

import json
import logging
import uuid

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext_noop

from meetings.sfu.messages import TokenBucket
from meetings.sfu.worker import ChannelBackend, embedded_host, mode, placement
from office.consumers import DirectDispatchMixin
from office.i18n import language_from_scope, translated

logger = logging.getLogger(__name__)

MAX_FRAME = 200_000  # bytes of one signalling frame (an SDP is a few kB)
CLOSE_INTERNAL = 1011  # RFC 6455: the server met a condition that prevented it from going on
ROOM_ACTIONS = {"mute", "mute_all", "stop_video", "remove", "present", "end"}
CLOSE_CODES = {"removed": 4403, "replaced": 4409, "ended": 4410}
CLOSE_MOVED = 4503  # the media server of this session is gone: the client reconnects (room.js)


def _actions():
    from meetings import actions

    return actions


@database_sync_to_async
def _check_join(person, meeting_id):
    actions = _actions()
    meeting = actions.check_join(person, meeting_id)
    return meeting, actions.is_host(person, meeting)


@database_sync_to_async
def _joined(person, meeting, media_mode, session_key):
    _actions().do_participant_joined(person, meeting, media_mode, session_key=session_key)


@database_sync_to_async
def _left(person, meeting, session_key, admitted=True):
    _actions().do_participant_left(person, meeting, session_key=session_key, admitted=admitted)


@database_sync_to_async
def _admitted(person, meeting, session_key):
    _actions().do_participant_admitted(person, meeting, session_key)


@database_sync_to_async
def _host_command(person, meeting, action, target):
    actions = _actions()
    actions.do_host_command(person, meeting, action, target)
    if action in ("record_start",):
        return actions.recording_path(meeting)
    return None


@database_sync_to_async
def _media_mode(person, meeting, media_mode):
    _actions().do_set_media_mode(person, meeting, media_mode)


@database_sync_to_async
def _hand(person, meeting, up):
    _actions().do_raise_hand(person, meeting, up)


class MeetingConsumer(DirectDispatchMixin, AsyncWebsocketConsumer):
    person = None
    meeting = None
    session_id = None
    joined = False
    hand = False
    room_joined = False
    queued = False  # the media server put this session in its join queue and has not let it in yet
    _watchdog = None
    media_mode = "video"
    language = settings.LANGUAGE_CODE

    # ------------------------------------------------------------- lifecycle
    async def connect(self):
        self.language = language_from_scope(self.scope)
        with translation.override(self.language):
            await self._connect()

    async def _connect(self):
        from office.errors import ActionError

        user = self.scope.get("user")
        self.meeting_id = int(self.scope["url_route"]["kwargs"]["meeting_id"])
        await self.accept()
        try:
            self.meeting, self.is_host = await _check_join(user, self.meeting_id)
        except ActionError as exc:
            await self._error(exc.code or "forbidden", str(exc.message if hasattr(exc, "message") else exc))
            await self.close(code=4403 if exc.status != 401 else 4401)
            return
        self.person = user
        self.session_id = uuid.uuid4().hex[:16]
        self.bucket = TokenBucket(rate=25.0, burst=50.0)
        self.backend = None if mode() != "external" else ChannelBackend()
        self.worker = None
        await self.send_json({"type": "hello", "session": self.session_id, "host": self.is_host,
                              "meeting": self.meeting_id})

    async def disconnect(self, code):
        await self._end_session()

    async def _end_session(self):
        """Leave the room and close this session's attendance interval (once)."""
        if self._watchdog is not None:
            self._watchdog.cancel()
        if self.person is None or not self.joined:
            return
        self.joined = False
        try:
            if self.backend is None:
                await embedded_host().leave(self.meeting_id, self.session_id)
            elif self.worker:
                await self.channel_layer.send(self.worker, {
                    "type": "sfu.leave", "meeting": self.meeting_id, "session": self.session_id})
        finally:
            await _left(self.person, self.meeting, self.session_id, admitted=not self.queued)

    # ---------------------------------------------------------------- input
    async def receive(self, text_data=None, bytes_data=None):
        if self.person is None:
            return
        with translation.override(self.language):  # for the actions' refusals
            try:
                await self._receive(text_data)
            except Exception:
                # Whatever failed, this participant must not stay behind as a ghost in the room
                # and in attendance: end the session as a disconnect would, and close the socket.
                logger.exception("meeting %s: signalling of session %s failed; ending it",
                                 self.meeting_id, self.session_id)
                try:
                    await self._end_session()
                finally:
                    await self.close(code=CLOSE_INTERNAL)

    async def _receive(self, text_data):
        if not self.bucket.take():
            await self._error("rate_limited", gettext_noop("消息过于频繁，请稍后再试"))
            return
        if text_data is None or len(text_data) > MAX_FRAME:
            await self._error("bad_message", gettext_noop("信令消息必须是不超过 200KB 的 JSON 文本"))
            return
        try:
            message = json.loads(text_data)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
            await self._error("bad_message", gettext_noop("信令消息不是有效的 JSON"))
            return
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            await self._error("bad_message", gettext_noop("无法识别的信令消息"))
            return
        kind = message["type"]
        if kind == "join":
            await self._join(message)
            return
        if not self.joined:
            await self._error("out_of_order", gettext_noop("请先发送 join 加入会议"), request=kind)
            return
        if kind == "host":
            await self._host(message)
            return
        if kind == "chat":
            await self._error("bad_message", gettext_noop("聊天请使用会议页面的聊天接口"), request=kind)
            return
        # Attendance and hand state are written only when they change (a flood costs nothing).
        if kind == "mode" and message.get("mode") in ("video", "small", "audio") \
                and message["mode"] != self.media_mode:
            self.media_mode = message["mode"]
            await self._safe(_media_mode(self.person, self.meeting, message["mode"]))
        if kind == "hand" and bool(message.get("up", True)) != self.hand:
            self.hand = bool(message.get("up", True))
            await self._safe(_hand(self.person, self.meeting, self.hand))
        await self._to_room(message)

    async def _join(self, message):
        from office.errors import ActionError

        if self.joined:
            await self._error("out_of_order", gettext_noop("已经加入会议"), request="join")
            return
        media_mode = message.get("mode") if message.get("mode") in ("video", "small", "audio") else "video"
        try:
            await _joined(self.person, self.meeting, media_mode, self.session_id)
        except ActionError as exc:
            await self._error(exc.code or "forbidden", exc.message)
            return
        self.joined = True
        self.media_mode = media_mode
        name = getattr(self.person, "display_name", "") or self.person.get_username()
        if self.backend is None:
            await embedded_host().join(self.meeting_id, self.session_id, self.person.id, name,
                                       self.is_host, media_mode, self.deliver,
                                       presenter=self.meeting.presenter_id)
            return
        import asyncio

        try:
            if placement() == "viewer":
                self.worker = await self.backend.place_viewer(self.meeting_id)
            else:
                self.worker = await self.backend.owner(self.meeting_id)
        except asyncio.TimeoutError:
            self.joined = False
            await _left(self.person, self.meeting, self.session_id)
            await self._error("unavailable", gettext_noop("媒体服务器暂时不可用，请稍后重试"))
            return
        self._join_message = {
            "type": "sfu.join", "meeting": self.meeting_id, "session": self.session_id,
            "person": self.person.id, "name": name, "host": self.is_host, "mode": media_mode,
            "presenter": self.meeting.presenter_id, "reply": self.channel_name}
        await self.channel_layer.send(self.worker, self._join_message)
        if placement() == "viewer":
            self._watchdog = asyncio.ensure_future(self._watch_worker())
        else:
            self._watchdog = asyncio.ensure_future(self._check_worker())

    async def _watch_worker(self, every=1.0):
        """When this session's worker stops reporting (it died), end the session (its attendance
        interval closes now, not when the socket does) and close the socket with CLOSE_MOVED: the
        client reconnects at once and is placed on a live worker. With SFU_PLACEMENT=viewer the
        room's other workers keep their viewers; with rooms placed whole, the dead worker's claim
        on the room is dropped first, so the reconnecting participants place it again."""
        import asyncio

        missed = 0
        while self.joined:
            await asyncio.sleep(every)
            try:
                alive = await self.backend.alive(self.worker)
            except Exception:
                alive = True  # the cache is unreachable: not a reason to move anyone
            missed = 0 if alive else missed + 1
            if missed >= 2 and self.joined:
                self._watchdog = None  # (not cancelled by _end_session: it is this task)
                if placement() != "viewer":
                    await self.backend.forget(self.meeting_id, self.worker)
                await self._error("moved", gettext_noop("媒体服务器已切换，正在重新连接"))
                await self._end_session()
                await self.close(code=CLOSE_MOVED)
                return

    async def _check_worker(self, wait=5.0, every=0.25):
        """A claim may point at a worker that died: if it does not answer, place the room again.
        Once in the room, watch the worker (_watch_worker)."""
        import asyncio

        loop = asyncio.get_running_loop()
        for _attempt in range(2):
            deadline = loop.time() + wait
            while self.joined and not self.room_joined and loop.time() < deadline:
                await asyncio.sleep(every)
            if not self.joined:
                return
            if self.room_joined:
                break
            await self.backend.forget(self.meeting_id, self.worker)
            try:
                self.worker = await self.backend.owner(self.meeting_id)
            except asyncio.TimeoutError:
                continue
            await self.channel_layer.send(self.worker, self._join_message)
        if not self.room_joined:
            if self.joined:
                await self._error("unavailable", gettext_noop("媒体服务器暂时不可用，请稍后重试"))
            return
        await self._watch_worker()

    async def _host(self, message):
        from office.errors import ActionError

        action = message.get("action")
        target = message.get("target")
        try:
            path = await _host_command(self.person, self.meeting, action, target)
        except ActionError as exc:
            await self._error(exc.code or "forbidden", exc.message, request="host")
            return
        if action in ROOM_ACTIONS:
            await self._to_room({"type": "host", "action": action,
                                 "target": int(target) if str(target or "").isdigit() else target})
        elif action in ("record_start", "record_stop"):
            from meetings.sfu.worker import room_command

            result = await room_command(self.meeting_id, action, path=path, person_id=self.person.id)
            await self.send_json({"type": "recording", "action": action, **{
                k: v for k, v in result.items() if k in ("ok", "reason")}})

    async def _to_room(self, message):
        if self.backend is None:
            await embedded_host().signal(self.meeting_id, self.session_id, message)
        elif self.worker:
            await self.channel_layer.send(self.worker, {
                "type": "sfu.signal", "meeting": self.meeting_id, "session": self.session_id,
                "message": message})

    async def _safe(self, coro):
        from office.errors import ActionError

        try:
            await coro
        except ActionError:
            pass

    # --------------------------------------------------------------- output
    async def deliver(self, message):
        kind = message.get("type")
        if kind in ("joined", "joining"):
            self.room_joined = True  # the room answered (a join queued by admission control too)
        if kind == "joining":
            self.queued = True  # waiting its turn: not attending yet
        elif kind == "joined" and self.queued:
            self.queued = False
            await _admitted(self.person, self.meeting, self.session_id)
        await self.send_json(self._localised(message))
        code = CLOSE_CODES.get(message.get("type"))
        if code is not None:
            await self.close(code=code)

    async def send_json(self, message):
        await self.send(text_data=json.dumps(message, ensure_ascii=False))

    async def _error(self, code, message, request=None):
        await self.send_json(self._localised({"type": "error", "code": code, "message": str(message),
                                              "request": request}))

    def _localised(self, message):
        """The frame with its "message" (a Chinese msgid, maybe with "msgid"/"params" from the
        room) in this person's language. Text that is already translated passes unchanged."""
        text = message.get("message")
        if not isinstance(text, str) or not text:
            return message
        params = message.get("params") if isinstance(message.get("params"), dict) else None
        msgid = message.get("msgid") if params and isinstance(message.get("msgid"), str) else text
        out = {k: v for k, v in message.items() if k not in ("msgid", "params")}
        out["message"] = translated(self.language, msgid, params)
        return out

    # channel layer handlers (external workers)
    async def sfu_message(self, event):
        await self.deliver(event["message"])

    async def sfu_result(self, event):
        pass
