"""A forwarding SFU on aiortc: encoded media is relayed, never decoded or re-encoded.

- forwarding.py: the one aiortc hook (receivers yield encoded av.Packet objects).
- room.py: one meeting room on one event loop (publishers, subscribers, relay, host commands).
- recorder.py: WebM recording by muxing forwarded packets.
- worker.py: embedded rooms (daphne process) or external SFU worker processes over the channel layer.
"""
