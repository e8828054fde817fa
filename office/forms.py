from django import forms
from django.utils.translation import gettext_lazy as _


class LoginForm(forms.Form):
    username = forms.CharField(label=_("用户名"), max_length=150,
                               error_messages={"required": _("请输入用户名。"),
                                               "max_length": _("用户名过长（最多150个字符）。"),
                                               "null_characters_not_allowed": _("用户名不能包含空字符（NUL）。")})
    password = forms.CharField(label=_("密码"), max_length=1024, strip=False, widget=forms.PasswordInput,
                               error_messages={"required": _("请输入密码。"),
                                               "max_length": _("密码过长。"),
                                               "null_characters_not_allowed": _("密码不能包含空字符（NUL）。")})
