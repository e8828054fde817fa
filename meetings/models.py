"""Meetings (会议) and remote training (培训): scheduling, invitations, attendance, recordings.

Only meetings/actions.py writes these rows (house rule). Media never passes through Django:
the SFU (meetings/sfu/) reports joins, leaves and saved recordings back through the actions.
"""
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class MeetingKind(models.TextChoices):
    MEETING = "meeting", _("会议")
    TRAINING = "training", _("培训")


class MeetingState(models.TextChoices):
    SCHEDULED = "scheduled", _("未开始")
    LIVE = "live", _("进行中")
    ENDED = "ended", _("已结束")
    CANCELLED = "cancelled", _("已取消")


class MediaMode(models.TextChoices):
    VIDEO = "video", _("视频")
    SMALL = "small", _("低清视频")
    AUDIO = "audio", _("仅音频")


class Meeting(models.Model):
    """会议/培训: one scheduled session with a host, co-hosts and invited people and units."""

    kind = models.CharField(max_length=16, choices=MeetingKind.choices, default=MeetingKind.MEETING)
    title = models.CharField(max_length=200)
    agenda = models.TextField(blank=True)
    host = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="hosted_meetings")
    host_post = models.ForeignKey("office.Post", null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    organiser_unit = models.ForeignKey("office.Unit", null=True, blank=True, on_delete=models.PROTECT,
                                       related_name="organised_meetings")
    co_hosts = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="co_hosted_meetings")
    presenter = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    state = models.CharField(max_length=16, choices=MeetingState.choices, default=MeetingState.SCHEDULED,
                             db_index=True)
    locked = models.BooleanField(default=False)
    waiting_room = models.BooleanField(default=False)
    record = models.BooleanField(default=False)  # the host may record (录制)
    started_at = models.DateTimeField(null=True, blank=True)  # actual start (first join of a host)
    ended_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)  # the pre-start reminder went out
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-starts_at", "-id"]
        indexes = [models.Index(fields=["state", "starts_at"])]
        verbose_name = _("会议")
        verbose_name_plural = _("会议")

    def __str__(self):
        return self.title

    @property
    def is_open(self):
        return self.state in (MeetingState.SCHEDULED, MeetingState.LIVE)

    def host_ids(self):
        """The host and co-hosts (uses a prefetched co_hosts if there is one)."""
        return {self.host_id} | {p.id for p in self.co_hosts.all()}


class InvitationVia(models.TextChoices):
    PERSON = "person", _("按人员")
    UNIT = "unit", _("按单位")
    LEVEL = "level", _("按层级")
    TOWN_VILLAGES = "town_villages", _("镇(街道)所辖全部村(社区)")


class Invitation(models.Model):
    """邀请: a person, or a unit (everyone holding an active post there)."""

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="invitations")
    person = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                               related_name="meeting_invitations")
    unit = models.ForeignKey("office.Unit", null=True, blank=True, on_delete=models.PROTECT,
                             related_name="meeting_invitations")
    via = models.CharField(max_length=16, choices=InvitationVia.choices, default=InvitationVia.PERSON)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(person__isnull=False, unit__isnull=True) | Q(person__isnull=True, unit__isnull=False)),
                name="invitation_person_xor_unit",
            ),
            models.UniqueConstraint(fields=["meeting", "person"], condition=Q(person__isnull=False),
                                    name="invitation_one_per_person"),
            models.UniqueConstraint(fields=["meeting", "unit"], condition=Q(unit__isnull=False),
                                    name="invitation_one_per_unit"),
        ]
        verbose_name = _("邀请")


def material_upload_to(instance, filename):
    return f"meetings/{instance.meeting_id}/materials/{timezone.now():%Y%m%d%H%M%S}-{filename[-80:]}"


class Material(models.Model):
    """会议材料: a file handed out with the meeting."""

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="materials")
    file = models.FileField(upload_to=material_upload_to, max_length=300)
    name = models.CharField(max_length=200)
    size = models.BigIntegerField(default=0)
    content_type = models.CharField(max_length=100, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    uploaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        verbose_name = _("会议材料")


class Participant(models.Model):
    """A person's live standing in one meeting: admitted or waiting, removed, hand raised."""

    class Admission(models.TextChoices):
        ADMITTED = "admitted", _("已入会")
        WAITING = "waiting", _("等候中")
        REMOVED = "removed", _("已移出")

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="participants")
    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    admission = models.CharField(max_length=16, choices=Admission.choices, default=Admission.ADMITTED)
    hand_raised_at = models.DateTimeField(null=True, blank=True)
    media_mode = models.CharField(max_length=8, choices=MediaMode.choices, default=MediaMode.VIDEO)
    online = models.BooleanField(default=False)
    muted_by_host = models.BooleanField(default=False)
    video_stopped_by_host = models.BooleanField(default=False)
    first_seen_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["meeting", "person"], name="participant_once")]
        indexes = [models.Index(fields=["meeting", "hand_raised_at"], name="participant_hand_queue")]
        verbose_name = _("参会人")


class Attendance(models.Model):
    """出勤: one join→leave interval of one person (left_at empty while connected)."""

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="attendance")
    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey("office.Unit", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    session_key = models.CharField(max_length=64, blank=True)  # the SFU session, when known
    media_mode = models.CharField(max_length=8, choices=MediaMode.choices, default=MediaMode.VIDEO)
    joined_at = models.DateTimeField(default=timezone.now)
    left_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["joined_at", "id"]
        indexes = [models.Index(fields=["meeting", "person"])]
        verbose_name = _("出勤记录")


class CheckInWindow(models.Model):
    """签到: a window the host opens during the session."""

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="checkin_windows")
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    opens_at = models.DateTimeField(default=timezone.now)
    closes_at = models.DateTimeField()

    class Meta:
        ordering = ["opens_at", "id"]
        verbose_name = _("签到")

    def is_open(self, when=None):
        when = when or timezone.now()
        return self.opens_at <= when < self.closes_at


class CheckIn(models.Model):
    window = models.ForeignKey(CheckInWindow, on_delete=models.CASCADE, related_name="checkins")
    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["window", "person"], name="checkin_once")]
        verbose_name = _("签到记录")


class ChatMessage(models.Model):
    """聊天: kept with the meeting."""

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="chat")
    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    person_name = models.CharField(max_length=100)  # as it was
    text = models.TextField()
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("聊天消息")


class Recording(models.Model):
    """录制: a WebM file the SFU muxed from the forwarded packets."""

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="recordings")
    path = models.CharField(max_length=500)  # its name in storage (office/storage.py)
    started_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.FloatField(default=0)
    size_bytes = models.BigIntegerField(default=0)
    content_type = models.CharField(max_length=60, default="video/webm")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("录制")


class HostCommand(models.TextChoices):
    MUTE = "mute", _("静音")
    MUTE_ALL = "mute_all", _("全体静音")
    STOP_VIDEO = "stop_video", _("关闭视频")
    REMOVE = "remove", _("移出会议")
    LOCK = "lock", _("锁定会议")
    UNLOCK = "unlock", _("解除锁定")
    ADMIT = "admit", _("准许入会")
    PRESENT = "present", _("移交主讲")
    LOWER_HAND = "lower_hand", _("放下举手")
    ALLOW_SPEAK = "allow_speak", _("允许发言")
    RECORD_START = "record_start", _("开始录制")
    RECORD_STOP = "record_stop", _("停止录制")
    END = "end", _("结束会议")


class HostAction(models.Model):
    """主持人操作记录."""

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="host_actions")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    command = models.CharField(max_length=16, choices=HostCommand.choices)
    target = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("主持人操作")


# Training's own models (replay progress, completion reminders) live with the training package.
from meetings.training.models import CompletionReminder, Question, ReplayProgress  # noqa: E402,F401
