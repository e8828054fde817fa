"""Forms of the administration pages (管理): they parse and say what is wrong in Chinese; the rules
themselves (tree shape, who may do what) are in office.actions."""
from django import forms
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _

from office.models import ROLE_LABELS, UnitKind

ROLE_CHOICES = [(role, label) for role, label in ROLE_LABELS.items()]
DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]


def _format(message, **values):
    return str(message) % {k: (v if isinstance(v, int) else str(v)) for k, v in values.items()}


format_lazy = lazy(_format, str)  # formatted in the reader's language, when shown


def _required(label, limit=None):
    messages = {"required": format_lazy(_("请填写%(label)s。"), label=label),
                "null_characters_not_allowed": _("不能包含空字符（NUL）。")}
    if limit:
        messages["max_length"] = format_lazy(_("%(label)s不能超过%(n)d个字符。"), label=label, n=limit)
    return messages


class UnitFieldsForm(forms.Form):
    name = forms.CharField(label=_("名称"), max_length=100, error_messages=_required(_("名称"), 100))
    short_name = forms.CharField(label=_("简称"), max_length=50, required=False,
                                 error_messages=_required(_("简称"), 50))
    code = forms.CharField(label=_("行政区划代码"), max_length=12, required=False,
                           error_messages=_required(_("行政区划代码"), 12),
                           widget=forms.TextInput(attrs={"inputmode": "numeric", "pattern": "[0-9]*"}))
    kind = forms.ChoiceField(label=_("级别/类型"), choices=UnitKind.choices,
                             error_messages={"required": _("请选择级别/类型。"),
                                             "invalid_choice": _("未知的单位类型。")})


class UnitEditForm(UnitFieldsForm):
    parent = forms.TypedChoiceField(label=_("上级单位"), coerce=int, required=False, empty_value=None,
                                    error_messages={"invalid_choice": _("请从列表中选择上级单位。")})

    def __init__(self, *args, parents=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["parent"].choices = [("", _("无（市级单位）"))] + [(u.id, "\u3000" * u.depth + u.name) for u in parents]


class PersonForm(forms.Form):
    display_name = forms.CharField(label=_("姓名"), max_length=100, error_messages=_required(_("姓名"), 100))
    username = forms.CharField(label=_("用户名"), max_length=150, error_messages=_required(_("用户名"), 150))
    phone = forms.CharField(label=_("办公电话"), max_length=40, required=False,
                            error_messages=_required(_("办公电话"), 40),
                            widget=forms.TextInput(attrs={"inputmode": "tel"}))
    is_active = forms.BooleanField(label=_("启用（可以登录）"), required=False, initial=True)


class PostFieldsForm(forms.Form):
    title = forms.CharField(label=_("职务"), max_length=100, required=False, error_messages=_required(_("职务"), 100))
    roles = forms.MultipleChoiceField(label=_("角色"), choices=ROLE_CHOICES, required=False,
                                      widget=forms.CheckboxSelectMultiple,
                                      error_messages={"invalid_choice": _("未知的角色。")})


class NewPersonForm(PersonForm, PostFieldsForm):
    password = forms.CharField(label=_("初始密码"), max_length=128, required=False, strip=False,
                               widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
                               help_text=_("至少8位；留空则只能通过统一身份认证（目录）登录。"),
                               error_messages=_required(_("初始密码"), 128))
    unit = forms.CharField(label=_("单位（名称或行政区划代码）"), max_length=100, required=False,
                           error_messages=_required(_("单位"), 100))


class AddPostForm(PostFieldsForm):
    unit = forms.CharField(label=_("单位（名称或行政区划代码）"), max_length=100,
                           error_messages=_required(_("单位"), 100))


class DelegationForm(forms.Form):
    from_post = forms.TypedChoiceField(label=_("委托人（领导岗位）"), coerce=int,
                                       error_messages={"required": _("请选择委托人。"),
                                                       "invalid_choice": _("请从列表中选择委托人。")})
    to_post = forms.TypedChoiceField(label=_("受托人"), coerce=int,
                                     error_messages={"required": _("请选择受托人。"),
                                                     "invalid_choice": _("请从列表中选择受托人。")})
    starts_at = forms.DateTimeField(label=_("开始时间"), input_formats=DATETIME_FORMATS,
                                    widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
                                    error_messages={"required": _("请填写开始时间。"),
                                                    "invalid": _("开始时间格式不正确。")})
    ends_at = forms.DateTimeField(label=_("结束时间"), input_formats=DATETIME_FORMATS,
                                  widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
                                  error_messages={"required": _("请填写结束时间。"),
                                                  "invalid": _("结束时间格式不正确。")})
    reason = forms.CharField(label=_("事由"), max_length=200, required=False, error_messages=_required(_("事由"), 200))

    def __init__(self, *args, from_posts=(), to_posts=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["from_post"].choices = [("", _("请选择"))] + [(p.id, _post_label(p)) for p in from_posts]
        self.fields["to_post"].choices = [("", _("请选择"))] + [(p.id, _post_label(p)) for p in to_posts]


def _post_label(post):
    return f"{post.person.display_name} · {post.unit.name}" + (f" · {post.title}" if post.title else "")
