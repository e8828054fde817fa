"""A forwarding SFU on aiortc: encoded media is relayed, never decoded or re-encoded.

- forwarding.py: the one aiortc hook (receivers yield encoded av.Packet objects).
- room.py: one meeting room on one event loop, put together from one module per job:
  messages (refusals, rate limit), signalling (offers/answers/candidates), sdp (codecs, ICE),
  relay (fan-out, key frames, bitrate ceilings), ranking (last-N), subscriptions (what each
  viewer's slots carry), controls (presenting, host commands), roster (roster, stats),
  speaking (who speaks: the one rule), session (a participant's state).
- recorder.py: WebM recording by muxing forwarded packets.
- worker.py: embedded rooms (daphne process) or external SFU worker processes over the channel layer.

Imports run one way: messages, speaking, forwarding <- relay, sdp, ranking <- session <-
controls <- signalling; subscriptions; roster <- room <- worker; recorder reads speaking only.
"""
