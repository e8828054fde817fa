"""Search over 题名, 文号, 责任者 and full text, in Chinese.

PostgreSQL: every pair of neighbouring characters (a bigram, written as an ASCII token so any
text-search parser keeps it whole) goes into a tsvector with a GIN index; a query of two or more
characters must contain all its bigrams, then the exact text is confirmed. SQLite: an FTS5 table
with the trigram tokenizer (queries under three characters fall back to LIKE).
"""
from __future__ import annotations

import re

from django.db import connection

FTS_TABLE = "archive_item_fts"
MAX_TEXT = 20000


def normalise(text: str) -> str:
    return re.sub(r"\s+", "", (text or "")).lower()


def bigram_tokens(text: str) -> list[str]:
    t = normalise(text)
    if len(t) < 2:
        return []
    return sorted({"b" + t[i:i + 2].encode("utf-8").hex() for i in range(len(t) - 1)})


def text_for(item) -> str:
    from documents.archive import checks, store
    from documents.archive.actions import effective
    from documents.archive.models import ComponentRole, Direction

    eff = effective(item)
    role = ComponentRole.ORIGINAL if item.direction == Direction.SENT else ComponentRole.DOCUMENT
    main = item.components.filter(role=role).first()
    body = ""
    if main is not None and store.exists(main.storage_name):
        body = checks.text_of(store.read(main.storage_name))[:MAX_TEXT]
    return " ".join([eff["title"], eff["doc_number"], eff["responsible"], item.archival_code or "", body])


def index(item, text=None) -> None:
    from documents.archive.models import Item

    text = normalise(text if text is not None else text_for(item))
    if connection.vendor == "postgresql":
        Item.objects.filter(id=item.id).update(search_text=text)
        with connection.cursor() as cur:
            cur.execute("UPDATE archive_item SET search_vector = to_tsvector('simple', %s) WHERE id = %s",
                        [" ".join(bigram_tokens(text)), item.id])
        return
    Item.objects.filter(id=item.id).update(search_text=text)
    if connection.vendor == "sqlite" and fts_available():
        with connection.cursor() as cur:
            cur.execute(f"DELETE FROM {FTS_TABLE} WHERE rowid = %s", [item.id])
            cur.execute(f"INSERT INTO {FTS_TABLE}(rowid, body) VALUES (%s, %s)", [item.id, text])


def unindex(item) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("UPDATE archive_item SET search_vector = NULL WHERE id = %s", [item.id])
    elif connection.vendor == "sqlite" and fts_available():
        with connection.cursor() as cur:
            cur.execute(f"DELETE FROM {FTS_TABLE} WHERE rowid = %s", [item.id])


def fts_available() -> bool:
    with connection.cursor() as cur:
        cur.execute("SELECT name FROM sqlite_master WHERE name = %s", [FTS_TABLE])
        return cur.fetchone() is not None


def filter_text(qs, query: str):
    """Narrow an Item queryset to those matching `query` (all its characters, in order)."""
    q = normalise(query)[:100]
    if not q:
        return qs
    if connection.vendor == "postgresql" and len(q) >= 2:
        tokens = bigram_tokens(q)
        qs = qs.extra(where=["search_vector @@ to_tsquery('simple', %s)"], params=[" & ".join(tokens)])
        return qs.filter(search_text__contains=q)
    if connection.vendor == "sqlite" and len(q) >= 3 and fts_available():
        phrase = '"' + q.replace('"', '""') + '"'
        return qs.extra(where=[f"archive_item.id IN (SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s)"],
                        params=[phrase])
    return qs.filter(search_text__contains=q)


# -- schema (called from the migration) ---------------------------------------------------

def create_schema(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute("ALTER TABLE archive_item ADD COLUMN IF NOT EXISTS search_vector tsvector")
        schema_editor.execute("CREATE INDEX IF NOT EXISTS archive_item_search_gin ON archive_item "
                              "USING gin (search_vector)")
    elif vendor == "sqlite":
        try:
            schema_editor.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} "
                                  "USING fts5(body, tokenize='trigram')")
        except Exception:  # an SQLite without FTS5 trigram: LIKE only
            pass


def drop_schema(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS archive_item_search_gin")
        schema_editor.execute("ALTER TABLE archive_item DROP COLUMN IF EXISTS search_vector")
    elif vendor == "sqlite":
        schema_editor.execute(f"DROP TABLE IF EXISTS {FTS_TABLE}")
