"""The four-level organisation: units, people, posts, delegations."""
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from office.errors import ActionError


class UnitKind(models.TextChoices):
    CITY = "city", _("市")
    COUNTY = "county", _("县(市、区)")
    TOWN = "town", _("镇(街道)")
    VILLAGE = "village", _("村(社区)")
    DEPARTMENT = "department", _("内设机构/部门")


LEVEL_OF_KIND = {UnitKind.CITY: 1, UnitKind.COUNTY: 2, UnitKind.TOWN: 3, UnitKind.VILLAGE: 4}
# Which kind of parent each kind of unit must have.
PARENT_KIND = {
    UnitKind.CITY: None,
    UnitKind.COUNTY: UnitKind.CITY,
    UnitKind.TOWN: UnitKind.COUNTY,
    UnitKind.VILLAGE: UnitKind.TOWN,
}


class UnitQuerySet(models.QuerySet):
    def active(self):
        return self.filter(dissolved_at__isnull=True)

    def governments(self):
        return self.exclude(kind=UnitKind.DEPARTMENT)


class Unit(models.Model):
    """单位: a government unit of one of the four levels, or an internal office/department (内设机构)."""

    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    kind = models.CharField(max_length=16, choices=UnitKind.choices)
    name = models.CharField(max_length=100)
    short_name = models.CharField(max_length=50, blank=True)
    code = models.CharField(max_length=12, null=True, blank=True, unique=True)  # 12-digit statistical code
    doc_prefix = models.CharField(max_length=20, blank=True)  # 机关代字, e.g. 咸政
    fonds_no = models.CharField(max_length=20, blank=True)  # 全宗号
    is_office = models.BooleanField(default=False)  # the unit's 办公室, which may issue in its name
    is_local = models.BooleanField(default=False)  # accounts here are local, not from the directory
    # Materialised path of ids ("/1/5/77/") for subtree queries without recursion.
    path = models.CharField(max_length=255, db_index=True, editable=False, default="")
    depth = models.PositiveSmallIntegerField(default=0, editable=False)
    sort_order = models.IntegerField(default=0)
    dissolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = UnitQuerySet.as_manager()

    class Meta:
        ordering = ["path"]
        constraints = [
            models.UniqueConstraint(fields=["parent", "name"], name="unit_name_unique_under_parent"),
            models.UniqueConstraint(
                fields=["kind"], condition=Q(kind="city"), name="unit_only_one_city"
            ),
        ]
        verbose_name = _("单位")
        verbose_name_plural = _("单位")

    def __str__(self):
        return self.name

    @property
    def level(self):
        if self.kind == UnitKind.DEPARTMENT:
            return self.government.level if self.parent_id else None
        return LEVEL_OF_KIND[self.kind]

    @property
    def is_department(self):
        return self.kind == UnitKind.DEPARTMENT

    @property
    def government(self):
        """The nearest government unit (itself, or the unit a department belongs to)."""
        unit = self
        while unit.kind == UnitKind.DEPARTMENT and unit.parent_id:
            unit = unit.parent
        return unit

    @property
    def is_dissolved(self):
        return self.dissolved_at is not None

    def ancestor_ids(self):
        return [int(x) for x in self.path.strip("/").split("/")[:-1] if x]

    def ancestors(self):
        ids = self.ancestor_ids()
        return Unit.objects.filter(id__in=ids).order_by("depth")

    def descendants(self, include_self=False):
        qs = Unit.objects.filter(path__startswith=self.path)
        return qs if include_self else qs.exclude(id=self.id)

    def full_name(self):
        """A department reads with its unit: 咸阳市人民政府办公室."""
        return self.name

    # -- shape rules ---------------------------------------------------------------------
    def clean_shape(self):
        """Refuse a wrong tree shape with a clear (Chinese) error."""
        from django.utils.translation import gettext as _t

        name = (self.name or "").strip()
        if not name:
            raise ActionError(_t("单位名称不能为空。"))
        if len(name) > 100:
            raise ActionError(_t("单位名称不能超过100个字符。"))
        if self.kind not in UnitKind.values:
            raise ActionError(_t("未知的单位类型：%(kind)s") % {"kind": self.kind})
        if self.code is not None and self.code != "":
            if not (self.code.isdigit() and len(self.code) in (6, 9, 12)):
                raise ActionError(_t("行政区划代码应为6、9或12位数字：%(code)s") % {"code": self.code})
        parent = self.parent
        if self.kind == UnitKind.DEPARTMENT:
            if parent is None:
                raise ActionError(_t("内设机构必须隶属于一个单位。"))
        else:
            expected = PARENT_KIND[self.kind]
            if expected is None and parent is not None:
                raise ActionError(_t("市级单位不能有上级单位。"))
            if expected is not None and (parent is None or parent.kind != expected):
                raise ActionError(
                    _t("%(kind)s必须直接隶属于%(parent)s级单位。")
                    % {"kind": UnitKind(self.kind).label, "parent": UnitKind(expected).label}
                )
            if self.kind == UnitKind.CITY:
                clash = Unit.objects.filter(kind=UnitKind.CITY).exclude(id=self.id)
                if clash.exists():
                    raise ActionError(_t("系统中只能有一个市级单位。"))
        if parent is not None and self.id is not None:
            if parent.id == self.id or f"/{self.id}/" in parent.path:
                raise ActionError(_t("不能把单位移到它自己的下级之下（会形成环）。"))
        if parent is not None and parent.is_dissolved:
            raise ActionError(_t("上级单位已撤销，不能在其下新增单位。"))

    def refresh_path(self):
        self.depth = 0 if self.parent_id is None else self.parent.depth + 1
        prefix = "/" if self.parent_id is None else self.parent.path
        self.path = f"{prefix}{self.id}/"


class PersonManager(BaseUserManager):
    def create_user(self, username, password=None, **extra):
        person = self.model(username=username, **extra)
        person.set_password(password)
        person.save()
        return person

    def create_superuser(self, username, password=None, **extra):
        extra.setdefault("is_superuser", True)
        return self.create_user(username, password, **extra)


class Person(AbstractBaseUser):
    """人员: a person who signs in; their work happens through posts (岗位)."""

    username = models.CharField(max_length=150, unique=True)
    display_name = models.CharField(max_length=100)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    title = models.CharField(max_length=100, blank=True)
    is_active = models.BooleanField(default=True)
    is_superuser = models.BooleanField(default=False)  # break-glass administrator
    source = models.CharField(max_length=8, default="local", choices=[("local", _("本地")), ("ldap", _("目录"))])
    ldap_dn = models.CharField(max_length=500, blank=True, db_index=True)
    # The interface language the person chose in the user menu (empty: the browser's).
    language = models.CharField(max_length=8, blank=True, default="", choices=settings.LANGUAGES)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = PersonManager()
    USERNAME_FIELD = "username"
    REQUIRED_FIELDS = ["display_name"]

    class Meta:
        verbose_name = _("人员")
        verbose_name_plural = _("人员")

    def __str__(self):
        return self.display_name or self.username

    @property
    def is_staff(self):
        return self.is_superuser

    def has_perm(self, perm, obj=None):
        return self.is_active and self.is_superuser

    def has_module_perms(self, app_label):
        return self.is_active and self.is_superuser

    def active_posts(self):
        """The person's active posts (with their units) as a list. During a request the list the post
        middleware loaded for request.post is reused (the workbench's providers each need it);
        elsewhere it is asked afresh, so a person object kept across changes never sees stale posts."""
        posts = self.__dict__.get("request_posts")
        if posts is None:
            posts = list(Post.objects.active().filter(person_id=self.id).select_related("unit"))
        return posts


ROLE_FIELDS = {
    "leader": "is_leader",
    "secretary": "is_secretary",
    "handler": "is_handler",
    "archivist": "is_archivist",
    "admin": "is_admin",
}
ROLE_LABELS = {
    "leader": _("领导"),
    "secretary": _("秘书/文书"),
    "handler": _("承办人"),
    "archivist": _("档案员"),
    "admin": _("系统管理员"),
}


class PostQuerySet(models.QuerySet):
    def active(self):
        return self.filter(active=True, person__is_active=True, unit__dissolved_at__isnull=True)

    def with_role(self, role):
        return self.filter(**{ROLE_FIELDS[role]: True})


class Post(models.Model):
    """岗位: a person in a unit with roles. A person may hold several (兼职)."""

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="posts")
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="posts")
    title = models.CharField(max_length=100, blank=True)
    is_leader = models.BooleanField(default=False)
    is_secretary = models.BooleanField(default=False)
    is_handler = models.BooleanField(default=False)
    is_archivist = models.BooleanField(default=False)
    is_admin = models.BooleanField(default=False)
    active = models.BooleanField(default=True)
    source = models.CharField(max_length=8, default="local")
    created_at = models.DateTimeField(default=timezone.now)

    objects = PostQuerySet.as_manager()

    class Meta:
        ordering = ["unit__path", "id"]
        constraints = [models.UniqueConstraint(fields=["person", "unit"], name="post_one_per_person_unit")]
        verbose_name = _("岗位")
        verbose_name_plural = _("岗位")

    def __str__(self):
        return f"{self.unit.name} · {self.person.display_name}"

    @property
    def roles(self):
        return [role for role, field in ROLE_FIELDS.items() if getattr(self, field)]

    def role_labels(self):
        return [str(ROLE_LABELS[r]) for r in self.roles]

    def has_role(self, role):
        return bool(getattr(self, ROLE_FIELDS[role]))


class Delegation(models.Model):
    """代理: a leader away lets a deputy sign off in their place for a period."""

    from_post = models.ForeignKey(Post, on_delete=models.PROTECT, related_name="delegations_given")
    to_post = models.ForeignKey(Post, on_delete=models.PROTECT, related_name="delegations_received")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("代理授权")

    def is_current(self, when=None):
        when = when or timezone.now()
        return self.revoked_at is None and self.starts_at <= when < self.ends_at

    @classmethod
    def acting_for(cls, post, when=None):
        """Posts that `post` may currently act for (代签)."""
        when = when or timezone.now()
        return cls.objects.filter(
            to_post=post, starts_at__lte=when, ends_at__gt=when, revoked_at__isnull=True
        ).select_related("from_post__person", "from_post__unit")
