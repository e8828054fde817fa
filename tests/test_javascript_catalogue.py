"""The JavaScript catalogue: /jsi18n/ serves English for the strings the pages' scripts wrap in gettext()."""
import json
import re
from pathlib import Path

from django.test import Client

from tests.test_english_catalogue import parse_po

JS_PO_FILE = Path(__file__).resolve().parent.parent / "locale" / "en" / "LC_MESSAGES" / "djangojs.po"


def _catalog(accept_language):
    response = Client().get("/jsi18n/", HTTP_ACCEPT_LANGUAGE=accept_language)
    assert response.status_code == 200
    script = response.content.decode()
    # gettext() and interpolate() are defined on every page, whatever the language.
    assert "django.gettext = function" in script and "django.interpolate = function" in script
    match = re.search(r"const newcatalog = (\{.*?\});\n", script, re.S)
    return json.loads(match.group(1)) if match else {}


def test_it_serves_english_script_strings_to_an_english_browser_without_login(db):
    catalog = _catalog("en")
    assert catalog["共享屏幕"] == "Share screen"
    assert catalog["将邀请 %(people)s 人、%(units)s 个单位。"] == "Will invite %(people)s people and %(units)s units."


def test_it_serves_no_translations_to_a_chinese_browser(db):
    assert "共享屏幕" not in _catalog("zh-hans")


def test_it_leaves_no_script_string_untranslated_and_keeps_placeholders():
    entries = parse_po(JS_PO_FILE)
    assert entries, "djangojs.po has no entries"
    for entry in entries:
        msgstr = entry["msgstr"][0]
        assert msgstr.strip(), f"empty msgstr for {entry['msgid']!r}"
        assert "fuzzy" not in entry["flags"], entry["msgid"]
        assert sorted(re.findall(r"%\(\w+\)s", msgstr)) == sorted(re.findall(r"%\(\w+\)s", entry["msgid"])), entry["msgid"]
