"""Punctuation between a translated label and the users' data, in the page's language:
{% load punct %}{% translate "主送" %}{% punct "colon" %}… gives "主送：…" in Chinese, "Main recipient: …"
in English (full-width marks belong to Chinese text)."""
from django import template
from django.utils.translation import pgettext

register = template.Library()


@register.simple_tag
def punct(name):
    marks = {
        "colon": pgettext("punctuation", "："),
        "lparen": pgettext("punctuation", "（"),
        "rparen": pgettext("punctuation", "）"),
        "list": pgettext("punctuation", "、"),
        "stop": pgettext("punctuation", "。"),
    }
    return marks[name]
