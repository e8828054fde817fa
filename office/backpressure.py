"""Backpressure for streamed HTTP responses under daphne.

Daphne hands every `http.response.body` message straight to Twisted, whose transport buffers
without limit: a download streamed from storage (a recording, an archive export) is read faster
than the network takes it, and the difference piles up in daphne's memory — the whole file, for a
fast disk and a slow line. `Backpressure` wraps the HTTP application: for a response sent in
several body messages it registers a streaming producer on daphne's Twisted request; Twisted
pauses it when its write buffer is full and resumes it when the buffer has drained, and the
wrapper waits for that before it passes on the next message. A response in one message is not
touched. Under another server (no Twisted request behind `send`) it passes everything through.
"""
from __future__ import annotations

import asyncio
import functools


class _Producer:
    """A Twisted IPushProducer whose state is an asyncio event (the reactor is asyncio's loop)."""

    def __init__(self):
        self.ready = asyncio.Event()
        self.ready.set()

    def pauseProducing(self):
        self.ready.clear()

    def resumeProducing(self):
        self.ready.set()

    def stopProducing(self):  # the client went away: stop waiting, daphne drops what follows
        self.ready.set()


def _twisted_request(send):
    """daphne's send is functools.partial(server.handle_reply, protocol): the Twisted request."""
    if isinstance(send, functools.partial) and send.args:
        request = send.args[0]
        if hasattr(request, "registerProducer") and hasattr(request, "unregisterProducer"):
            return request
    return None


class Backpressure:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        request = _twisted_request(send) if scope["type"] == "http" else None
        if request is None:
            return await self.app(scope, receive, send)
        producer = None
        registered = False

        def unregister():
            nonlocal registered
            if registered:
                registered = False
                try:
                    request.unregisterProducer()
                except Exception:  # noqa: BLE001 - the connection is gone already
                    pass

        async def paced_send(message):
            nonlocal producer, registered
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    if producer is None:
                        producer = _Producer()
                        try:
                            request.registerProducer(producer, True)
                            registered = True
                        except Exception:  # noqa: BLE001 - the client left: daphne drops what follows
                            pass
                    await send(message)
                    await producer.ready.wait()
                    return
                unregister()  # the last message: Twisted finishes the request with it
            await send(message)

        try:
            return await self.app(scope, receive, paced_send)
        finally:
            unregister()
