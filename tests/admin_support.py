"""Helpers for the administration pages' tests: a unit's administrator (of 乾县, another county than
秦都区 whose units the tests change), and pulling the Chinese form errors out of a page.
(This module holds no tests itself.)"""
import re

from django.contrib.auth.hashers import make_password

from office import actions
from office.models import Person

PASSWORD = "Demo-2026!"


def unit_admin(units, short_name="乾县", username="qian_admin", display_name="乾县管理员"):
    """An administrator of one unit (and below), made the way an administrator would: through actions."""
    person = actions.do_create_person(username=username, display_name=display_name)
    Person.objects.filter(id=person.id).update(password=make_password(PASSWORD))
    actions.do_set_post(person=person, unit=units[short_name], roles=["admin"], title="管理员")
    return Person.objects.get(id=person.id)


def errors(html):
    """The messages a person sees on the form: the page's alert and every field's error."""
    return [re.sub(r"<[^>]+>", "", m).strip() for m in re.findall(r'role="alert"[^>]*>(.*?)</p>', html, re.S)]
