"""Replay (回放) progress and completion reminders of trainings (app label "meetings")."""
from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ReplayProgress(models.Model):
    """One person's watching of one recording: the positions watched, merged as intervals
    ([[start, end], …] in seconds of the recording) so that re-watching does not count twice,
    and where they stopped (resumed on any device: it is kept here, not in the browser)."""

    recording = models.ForeignKey("meetings.Recording", on_delete=models.CASCADE, related_name="replays")
    meeting = models.ForeignKey("meetings.Meeting", on_delete=models.CASCADE, related_name="replays")
    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    intervals = models.JSONField(default=list)
    watched_seconds = models.FloatField(default=0)
    position = models.FloatField(default=0)
    started_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["recording", "person"], name="replay_once_per_person")]
        indexes = [models.Index(fields=["meeting", "person"])]
        verbose_name = _("回放进度")


class CompletionReminder(models.Model):
    """催办: the organiser reminded a unit whose people have not completed a training."""

    meeting = models.ForeignKey("meetings.Meeting", on_delete=models.CASCADE, related_name="completion_reminders")
    unit = models.ForeignKey("office.Unit", on_delete=models.CASCADE, related_name="+")
    sent_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-sent_at", "-id"]
        indexes = [models.Index(fields=["unit", "meeting"])]
        verbose_name = _("培训催办")


class Question(models.Model):
    """问答: a participant's question to the presenter, answered in text or live (口头答复).

    Everyone in the room sees the answered questions; an open one only its asker and those
    who answer (the hosts and the presenter)."""

    meeting = models.ForeignKey("meetings.Meeting", on_delete=models.CASCADE, related_name="questions")
    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    person_name = models.CharField(max_length=100)  # as it was
    text = models.TextField()
    asked_at = models.DateTimeField(default=timezone.now)
    answer = models.TextField(blank=True)
    answered_live = models.BooleanField(default=False)  # answered aloud in the room
    answered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["asked_at", "id"]
        indexes = [models.Index(fields=["meeting", "answered_at"]), models.Index(fields=["meeting", "person"])]
        verbose_name = _("问答")

    @property
    def answered(self):
        return self.answered_at is not None
