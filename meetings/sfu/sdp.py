"""SDP and codecs: what a publisher's offer may carry, which codec is forwarded, ICE setup.

Codecs that can be forwarded without transcoding: Opus for audio; VP8 (preferred) and
H.264 (constrained baseline) for video (:data:`ALLOWED_CODECS`).
"""

from __future__ import annotations

from typing import Any, Optional

from aiortc import RTCBundlePolicy, RTCConfiguration, RTCIceServer, RTCRtpSender, RTCSessionDescription
from aiortc.sdp import SessionDescription

from .messages import SignallingError, gettext_noop

MAX_SDP = 100_000  # characters of one session description
ALLOWED_CODECS = {"audio": ["opus"], "video": ["VP8", "H264"]}
SOURCES = {"camera": "video", "small": "video", "screen": "video", "mic": "audio"}


def parse(message: dict, kind: str) -> RTCSessionDescription:
    """The offer or answer in a signalling message, checked: refused with a SignallingError."""
    sdp = message.get("sdp")
    if not isinstance(sdp, str) or not sdp.strip() or len(sdp) > MAX_SDP:
        raise SignallingError("bad_sdp", gettext_noop("会话描述(SDP)无效"))
    try:
        if not sdp.lstrip().startswith("v=0"):
            raise ValueError("no version line")
        parsed = SessionDescription.parse(sdp)
    except Exception:
        raise SignallingError("bad_sdp", gettext_noop("会话描述(SDP)格式错误"))
    if not any(m.kind in ("audio", "video") for m in parsed.media):
        raise SignallingError("bad_sdp", gettext_noop("会话描述(SDP)中没有音视频"))
    if kind == "offer":
        for media in parsed.media:
            if media.kind not in ("audio", "video"):
                continue
            names = {c.name.lower() for c in media.rtp.codecs}
            if not names & {n.lower() for n in ALLOWED_CODECS[media.kind]}:
                raise SignallingError(
                    "unsupported_codec",
                    gettext_noop("不支持的媒体编码：音频需要 Opus，视频需要 VP8 或 H.264"))
    return RTCSessionDescription(sdp=sdp, type=kind)


def keep_forwardable_codec(transceiver: Any) -> str:
    """Narrow a publisher's transceiver to the one codec the room forwards (Opus; VP8 before
    H.264) and its RTX; returns the codec's name."""
    kind = transceiver.kind
    names = ALLOWED_CODECS[kind]
    allowed = [c for c in transceiver._codecs if c.name.lower() in {n.lower() for n in names}]
    allowed.sort(key=lambda c: names.index(next(n for n in names if n.lower() == c.name.lower())))
    if allowed:
        first = allowed[0]
        rtx = [c for c in transceiver._codecs if c.name.lower() == "rtx"
               and c.parameters.get("apt") == first.payloadType]
        transceiver._codecs = [first] + rtx
    return transceiver._codecs[0].name if transceiver._codecs else ""


def source_of(kind: str, mid: Any, tracks: dict, index: int) -> str:
    """What a publisher's transceiver carries: as the client labelled it, else by position
    (the first video is the camera, the second the small track)."""
    default = "mic" if kind == "audio" else ("camera" if index == 1 else "small")
    source = tracks.get(mid, default)
    return source if SOURCES.get(source) == kind else default


def without_abs_send_time(sdp: str) -> str:
    """No abs-send-time towards viewers: their bandwidth estimates (REMB) could not change a
    forwarded stream anyway, and aiortc viewers would flood us with REMB."""
    return "\r\n".join(line for line in sdp.split("\r\n") if "abs-send-time" not in line)


def ice_configuration(ice_servers: Optional[list]) -> RTCConfiguration:
    servers = [RTCIceServer(**s) for s in (ice_servers or [])]
    # max-bundle: aiortc's default "balanced" policy mis-bundles a second video
    # transceiver (it keeps a transport that BUNDLE negotiation then stops).
    return RTCConfiguration(iceServers=servers, bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)


def codec_capabilities(kind: str, name: str) -> list:
    caps = RTCRtpSender.getCapabilities(kind).codecs
    chosen = [c for c in caps if c.mimeType.lower() == f"{kind}/{name}".lower()]
    chosen += [c for c in caps if c.mimeType.lower() == f"{kind}/rtx"]
    return chosen
