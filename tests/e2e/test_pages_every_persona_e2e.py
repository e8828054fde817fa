"""Every page, for six personas, at a desk (1366 px) and on a phone (360 px), in Chinese and in
English, in a real Chromium: nothing scrolls sideways, no control lies under a toolbar (the top
bar, the document's sticky action bar), the document page's primary action stands in the first
screen — and each language is clean: no Chinese in the English pages (the scripts' strings
included: they come from the gettext catalogues) except the users' data, and no stray English
words in the Chinese pages.

What is the users' data: every text the database holds for units, people, documents, meetings,
archives (the seed's and the test's), and the 公文 itself, which is marked lang="zh-Hans" on the
page (a Chinese official document stays Chinese, whatever the reader's language). An element
marked with another language than the page's (the language menu's "English") is that language's,
not a stray; the body of /api/docs is generated from the API's definition (Swagger UI) and left out.

The meeting room itself is checked by tests/e2e/test_meetings_stage_e2e.py (it needs two peers)."""
import re

import pytest

from tests.archive_support import filed_sent, with_fonds
from tests.conftest import login
from tests.e2e.layout_checks import PENDING_INIT, covered, settle, sideways
from tests.meetings_support import schedule
from tests.test_documents_support import dispatched, draft, post_of
from tests.training_support import record

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PERSONAS = ["city_leader", "city_secretary", "county_secretary", "town_secretary", "village_cadre", "archivist"]
WIDTHS = [(1366, 768), (360, 740)]
HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")  # Han characters (not the full-width marks)
WORD = re.compile(r"(?<![\w/.@-])[A-Za-z][A-Za-z]+(?![\w/@-])")
# Names of formats, standards and protocols are the same in Chinese and English text.
TERMS = {"PDF", "OFD", "Word", "GB", "T", "DA", "API", "JSON", "CSV", "XML", "OpenAPI", "CSRF", "LDAP", "SM", "SHA",
         "BagIt", "ZIP", "PAdES", "WebM", "Excel", "XLSX", "xlsx", "docx", "ID", "IP", "URL", "CA", "OK", "TURN",
         "WebRTC", "CPU", "PIN", "UTC", "TSA", "HTTPS", "SVG", "KB", "MB", "GB", "PDF/A", "qpdf"}
# The heading markers the composer's body parser recognises are syntax, the same in every language.
MARKERS = ("一、", "（一）")

TEXTS_JS = """() => {
  const pageLang = (document.documentElement.lang || '').toLowerCase();
  const own = (el) => { const l = el && el.closest('[lang]'); return !l || l === document.documentElement ||
      l.lang.toLowerCase().slice(0, 2) === pageLang.slice(0, 2); };
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!el || el.closest('script, style, template, noscript, code, pre, #swagger-ui')) continue;
    const t = n.nodeValue.trim();
    if (t && own(el)) out.push([t, el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')]);
  }
  for (const el of document.body.querySelectorAll('[placeholder], [title], [aria-label], [alt], input[type=submit], input[type=button]')) {
    if (!own(el) || el.closest('#swagger-ui')) continue;
    for (const a of ['placeholder', 'title', 'aria-label', 'alt', 'value']) {
      if (a === 'value' && !['submit', 'button'].includes(el.type)) continue;
      const v = (el.getAttribute(a) || '').trim();
      if (v) out.push([v, el.tagName.toLowerCase() + '[' + a + ']']);
    }
  }
  out.push([document.title, 'title']);
  return out;
}"""


def _data_strings():
    """Every text the database holds (not a choice's code), longest first: the users' data. From
    JSON fields (document bodies, audit details) only texts with Chinese in them: their other
    strings are codes ("agree", "dispatch") that must not hide an English word on a Chinese page."""
    from django.apps import apps
    from django.db import models

    found = set()

    def walk(value, codes_too):
        if isinstance(value, str):
            for part in [value, *value.splitlines()]:
                part = part.strip()
                if part and (codes_too or HAN.search(part)):
                    found.add(part)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v, codes_too)
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v, codes_too)

    for model in apps.get_models():
        if not model.__module__.startswith(("office.", "documents.", "meetings.")):
            continue
        fields = [f for f in model._meta.concrete_fields
                  if isinstance(f, (models.CharField, models.TextField, models.JSONField)) and not f.choices]
        if not fields:
            continue
        for row in model.objects.values_list(*[f.name for f in fields]):
            for field, value in zip(fields, row):
                walk(value, not isinstance(field, models.JSONField))
    return sorted(found, key=len, reverse=True)


def _world(units, people):
    city_sec, city_leader = people["city_secretary"], people["city_leader"]
    village = post_of(people["village_cadre"]).unit
    sent = dispatched(city_sec, city_leader, urgency="加急", main=[units["秦都区"].id, units["人民路街道"].id],
                      title="关于做好冬季防火工作的通知")
    to_village = dispatched(people["town_secretary"], people["town_leader"], main=[village.id],
                            title="关于做好村级财务公开的通知")
    own = draft(city_sec, main=[units["秦都区"].id], title="关于开展安全生产大检查的通知")
    meeting = schedule(city_sec, unit_ids=[village.id, units["秦都区"].id, units["人民路街道"].id],
                       person_ids=[city_leader.id, people["archivist"].id])
    training = schedule(people["county_secretary"], kind="training", title="农村人居环境整治培训",
                        villages_of=[units["人民路街道"].id], record=True)
    recording = record(training, people["county_secretary"])
    with_fonds()
    item = filed_sent(city_sec, city_leader, title="关于印发档案工作要点的通知", main=[units["秦都区"].id])
    from documents.archive.models import CheckRun

    run = CheckRun.objects.filter(fonds=item.fonds).order_by("-id").first()
    return {"sent": sent, "to_village": to_village, "own": own, "meeting": meeting, "training": training,
            "recording": recording, "item": item, "run": run}


def _pages(persona, units, w):
    """(url, expected status) of every page the persona has."""
    sent = w["to_village"] if persona == "village_cadre" else w["sent"]
    pages = [("/", 200), ("/documents/", 200), ("/documents/?box=outbox", 200), ("/documents/?box=all&q=通知", 200),
             ("/documents/new/", 200), (f"/documents/{sent.id}/", 200), ("/documents/files/verify/", 200),
             ("/documents/files/seals/", 200), ("/documents/archive/", 200), ("/documents/archive/catalogue/", 200),
             ("/meetings/", 200), ("/meetings/new/", 200), (f"/meetings/{w['meeting'].id}/", 200),
             ("/directory/", 200), (f"/directory/unit/{units['秦都区'].id}/", 200), ("/directory/?q=秦都", 200),
             ("/me/", 200), ("/documents/999999/", 404), ("/meetings/999999/", 404)]
    if persona == "city_secretary":  # /api/docs is the same for everyone (and heavy): once
        pages += [("/api/docs", 200), (f"/documents/{w['own'].id}/", 200), (f"/documents/{w['own'].id}/edit/", 200),
                  (f"/documents/{sent.id}/tracking/", 200), (f"/meetings/{w['meeting'].id}/attendance/", 200),
                  (f"/meetings/{w['meeting'].id}/roster/", 200), (f"/documents/archive/items/{w['item'].id}/", 200)]
    if persona == "county_secretary":
        t = w["training"]
        pages += [(f"/meetings/{t.id}/", 200), (f"/meetings/{t.id}/course/", 200), (f"/meetings/{t.id}/completion/", 200),
                  (f"/meetings/{t.id}/recordings/{w['recording'].id}/", 200), (f"/documents/{sent.id}/tracking/", 403)]
    if persona == "village_cadre":
        t = w["training"]
        pages += [(f"/meetings/{t.id}/course/", 200), (f"/meetings/{t.id}/recordings/{w['recording'].id}/", 200)]
    if persona == "archivist":
        pages += [(f"/documents/archive/items/{w['item'].id}/", 200), ("/documents/archive/manage/", 200)]
        if w["run"] is not None:
            pages.append((f"/documents/archive/reports/{w['run'].id}/", 200))
    return pages


def _language_problems(texts, lang, data, where):
    problems = []
    for text, tag in texts:
        rest = text
        for d in (*data, *MARKERS):
            if d in rest:
                rest = rest.replace(d, " ")
        if lang == "en":
            if HAN.search(rest):
                problems.append(f"{where}: Chinese in the English page: {tag} «{text[:60]}»")
        else:
            words = [w for w in WORD.findall(rest) if w not in TERMS]
            if words:
                problems.append(f"{where}: English in the Chinese page: {tag} «{text[:60]}» ({', '.join(words[:4])})")
    return problems


def _primary_action_in_first_screen(page, where, height):
    primary = page.locator(".actionbar .primary").first
    if not primary.count():
        return []
    box = primary.bounding_box()
    if box is None or box["y"] + box["height"] > height:
        return [f"{where}: the primary action is below the first screen ({box})"]
    return []


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_it_fits_every_page_and_speaks_one_language_for_every_persona(lang, seed_small, live_server_url, browser):
    units, people = seed_small
    world = _world(units, people)
    data = _data_strings()
    problems = []
    for persona in PERSONAS:
        pages = _pages(persona, units, world)
        for width, height in WIDTHS:
            ctx = browser.new_context(viewport={"width": width, "height": height},
                                      locale="zh-CN" if lang == "zh" else "en-US",
                                      extra_http_headers={"Accept-Language": "zh-CN" if lang == "zh" else "en"})
            try:
                ctx.add_init_script(PENDING_INIT)
                page = ctx.new_page()
                errors = []
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                login(page, live_server_url, persona)
                for url, status in pages:
                    where = f"{persona} {lang} @{width} {url}"
                    response = page.goto(live_server_url + url)
                    if response.status != status:
                        problems.append(f"{where}: HTTP {response.status}, not {status}")
                        continue
                    settle(page)
                    problems += [f"{where}: scrolls sideways: {s}" for s in sideways(page, width)]
                    problems += [f"{where}: {c}" for c in covered(page)]
                    if re.fullmatch(r"/documents/\d+/", url):
                        problems += _primary_action_in_first_screen(page, where, height)
                    problems += _language_problems(page.evaluate(TEXTS_JS), lang, data, where)
                problems += [f"{persona} {lang} @{width}: script error: {e}" for e in errors]
            finally:
                ctx.close()
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(dict.fromkeys(problems))
