"""The English catalogue: pages and API errors in English for Accept-Language: en, and a complete .po file."""
import ast
import re
from pathlib import Path

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils.translation.template import templatize

BASE_DIR = Path(__file__).resolve().parent.parent
PO_FILE = BASE_DIR / "locale" / "en" / "LC_MESSAGES" / "django.po"
PASSWORD = "Demo-2026!"
# Han characters and CJK punctuation (full-width brackets, commas, full stops, corner quotes).
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%[sd]|\{\w*\}")
# The composer hint names the Chinese heading markers the body parser recognises; they stay Chinese.
KEEPS_CHINESE_MARKERS = "每行一段；以“一、”“（一）”“1.”“（1）”开头的行为各级标题"
# The directories `makemessages -l en` is run with --ignore for (plus locale itself and VCS/tool folders).
NOT_SCANNED = {".venv", "var", "tests", "bench", "locale", "node_modules", ".git"}


def _unquote(lines):
    return "".join(ast.literal_eval(line) for line in lines)


def parse_po(path=PO_FILE):
    """The entries of a .po file as dicts {msgid, msgid_plural, msgstr: {index: text}, flags}; header excluded."""
    entries, current, field = [], None, None

    def finish():
        if current is not None and current["msgid"] is not None and not current["obsolete"]:
            entries.append(current)

    for raw in path.read_text(encoding="utf-8").splitlines() + [""]:
        line = raw.strip()
        if not line:
            finish()
            current, field = None, None
            continue
        if current is None:
            current = {"msgid": None, "msgid_plural": None, "msgctxt": None, "msgstr": {}, "flags": set(),
                       "obsolete": False, "_parts": {}}
        if line.startswith("#~"):
            current["obsolete"] = True
            continue
        if line.startswith("#,"):
            current["flags"].update(f.strip() for f in line[2:].split(","))
            continue
        if line.startswith("#"):
            continue
        m = re.match(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(".*")$', line)
        if m:
            field = m.group(1)
            current["_parts"][field] = [m.group(3)]
        elif line.startswith('"') and field:
            current["_parts"][field].append(line)
        else:
            raise AssertionError(f"unreadable line in {path.name}: {raw!r}")
        parts = current["_parts"]
        current["msgid"] = _unquote(parts["msgid"]) if "msgid" in parts else None
        current["msgid_plural"] = _unquote(parts["msgid_plural"]) if "msgid_plural" in parts else None
        current["msgctxt"] = _unquote(parts["msgctxt"]) if "msgctxt" in parts else None
        current["msgstr"] = {}
        for key, value in parts.items():
            if key == "msgstr":
                current["msgstr"][0] = _unquote(value)
            elif key.startswith("msgstr["):
                current["msgstr"][int(key[7:-1])] = _unquote(value)
    return [e for e in entries if e["msgid"] != ""]


def source_msgids():
    """Every literal msgid in the code and templates that `makemessages` scans (gettext-family calls)."""
    found = set()
    keywords = {"_", "gettext", "gettext_lazy", "gettext_noop", "pgettext", "pgettext_lazy",
                "ngettext", "ngettext_lazy", "npgettext", "npgettext_lazy"}
    for path in BASE_DIR.rglob("*"):
        rel = path.relative_to(BASE_DIR)
        if not path.is_file() or NOT_SCANNED & set(rel.parts[:-1]):
            continue
        if path.suffix == ".py":
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call) or not node.args:
                    continue
                name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
                if name not in keywords:
                    continue
                arg_index = 1 if name.startswith(("pgettext", "npgettext")) else 0
                if len(node.args) > arg_index and isinstance(node.args[arg_index], ast.Constant) \
                        and isinstance(node.args[arg_index].value, str):
                    found.add(node.args[arg_index].value)
        elif path.suffix in (".html", ".txt") and "templates" in rel.parts:
            code = templatize(path.read_text(encoding="utf-8"), origin=str(path))
            for m in re.finditer(r"\b(?:gettext|ngettext)\((u?'(?:[^'\\]|\\.)*')", code):
                found.add(ast.literal_eval(m.group(1)))
            for m in re.finditer(r"\b(?:pgettext|npgettext)\(u?'(?:[^'\\]|\\.)*',\s*(u?'(?:[^'\\]|\\.)*')", code):
                found.add(ast.literal_eval(m.group(1)))
    return {m for m in found if m}


def visible_text(html):
    """The page text a person sees or hears: text nodes plus title/aria-label/placeholder/alt attributes."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S | re.I)
    attrs = re.findall(r'\b(?:title|aria-label|placeholder|alt)="([^"]*)"', html)
    text = re.sub(r"<[^>]+>", " ", html)
    return " ".join([text] + attrs)


@pytest.fixture(autouse=True)
def _clear_throttle():
    cache.clear()
    yield
    cache.clear()


def test_it_shows_the_sign_in_page_in_english_when_the_browser_asks_for_english(db):
    page = Client().get("/login/", HTTP_ACCEPT_LANGUAGE="en")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Sign in" in html and "Username" in html and "Password" in html
    leftover = CJK.findall(visible_text(html))
    assert not leftover, f"untranslated text on the English sign-in page: {''.join(leftover)}"


def test_it_still_shows_the_sign_in_page_in_chinese_by_default(db):
    html = Client().get("/login/").content.decode()
    assert "登录" in html and "Sign in" not in html


def test_it_explains_a_wrong_password_in_english(county_secretary):
    page = Client().post("/login/", {"username": "county_secretary", "password": "not-" + PASSWORD},
                         HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 401
    error = re.search(r'id="login-error">([^<]*)<', page.content.decode()).group(1)
    assert "password" in error.lower()
    assert not CJK.search(error), error


def test_it_answers_an_unauthenticated_api_call_in_english(db):
    r = Client().get("/api/office/me", HTTP_ACCEPT_LANGUAGE="en")
    assert r.status_code == 401
    detail = r.json()["detail"]
    assert "sign in" in detail.lower()
    assert not CJK.search(detail), detail


def test_it_answers_an_unauthenticated_api_call_in_chinese_by_default(db):
    r = Client().get("/api/office/me")
    assert r.status_code == 401
    assert CJK.search(r.json()["detail"])


def test_it_reports_a_missing_document_in_english(client_for, county_secretary):
    client = client_for(county_secretary)
    r = client.get("/api/documents/987654", HTTP_ACCEPT_LANGUAGE="en")
    assert r.status_code == 404
    detail = r.json()["detail"]
    assert "not found" in detail.lower()
    assert not CJK.search(detail), detail


def test_it_translates_every_entry_of_the_english_catalogue():
    entries = parse_po()
    assert len(entries) > 700
    empty = [e["msgid"] for e in entries if not e["msgstr"] or not all(e["msgstr"].values())]
    fuzzy = [e["msgid"] for e in entries if "fuzzy" in e["flags"]]
    assert not empty, f"{len(empty)} untranslated msgids, e.g. {empty[:5]}"
    assert not fuzzy, f"{len(fuzzy)} fuzzy msgids, e.g. {fuzzy[:5]}"


def test_it_keeps_placeholders_and_leaves_no_chinese_in_the_english_catalogue():
    problems = []
    for e in parse_po():
        for index, text in e["msgstr"].items():
            source = e["msgid_plural"] if index > 0 and e["msgid_plural"] else e["msgid"]
            if sorted(PLACEHOLDER.findall(source)) != sorted(PLACEHOLDER.findall(text)):
                problems.append(("placeholders differ", e["msgid"], text))
            if CJK.search(text) and e["msgid"] != KEEPS_CHINESE_MARKERS:
                problems.append(("Chinese left in translation", e["msgid"], text))
    assert not problems, problems[:10]


def test_it_has_an_english_entry_for_every_translatable_string_in_the_source():
    in_catalogue = {e["msgid"] for e in parse_po()}
    missing = sorted(source_msgids() - in_catalogue)
    assert not missing, (f"{len(missing)} strings are not in locale/en (re-run makemessages -l en and translate): "
                         f"{missing[:10]}")
