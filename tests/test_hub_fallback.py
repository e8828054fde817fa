"""The event hub: a socket whose fast path raises still gets the event the slow way, and it is logged."""
import logging

from office.hub import Hub


class BrokenFastPath:
    """A consumer whose pre-framed fast path raises (e.g. a transport torn down mid-write)."""

    def __init__(self):
        self.frames = []

    def push_wire(self, wire):
        raise ConnectionResetError("transport gone")

    async def push_frame(self, frame):
        self.frames.append(frame)


class WorkingFastPath:
    def __init__(self):
        self.wires = []

    def push_wire(self, wire):
        self.wires.append(wire)
        return True

    async def push_frame(self, frame):
        raise AssertionError("the slow path is not needed here")


async def test_it_falls_back_to_the_slow_path_when_push_wire_raises_and_logs_a_warning(caplog):
    hub = Hub()
    broken, working = BrokenFastPath(), WorkingFastPath()
    hub.register(broken, ["p:1"])
    hub.register(working, ["u:7"])
    with caplog.at_level(logging.WARNING, logger="office.hub"):
        await hub.deliver({"people": [1], "units": [7], "frame": '{"op": "changed"}'})
    assert broken.frames == ['{"op": "changed"}']
    assert len(working.wires) == 1 and working.wires[0].endswith(b'{"op": "changed"}')
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and r.name == "office.hub"]
    assert warnings and "push_wire failed" in warnings[0].getMessage()
