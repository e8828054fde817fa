"""Websocket routes of the meetings app; asgi.py adds ``websocket_urlpatterns``."""
from django.urls import path

from meetings.consumers import MeetingConsumer

websocket_urlpatterns = [
    path("ws/meetings/<int:meeting_id>/", MeetingConsumer.as_asgi()),
]
