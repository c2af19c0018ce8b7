"""The knowledge base's full-text index: SQLite FTS5 with the trigram tokenizer, which finds
Chinese text without a word list, kept in step with the articles by triggers (B15)."""

from __future__ import annotations

from django.db import migrations

FORWARD = [
    "CREATE VIRTUAL TABLE routecore_portal_article_fts USING fts5("
    "title, body, content='routecore_portal_article', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER routecore_portal_article_ai AFTER INSERT ON routecore_portal_article BEGIN"
    " INSERT INTO routecore_portal_article_fts(rowid, title, body)"
    " VALUES (new.id, new.title, new.body); END",
    "CREATE TRIGGER routecore_portal_article_ad AFTER DELETE ON routecore_portal_article BEGIN"
    " INSERT INTO routecore_portal_article_fts(routecore_portal_article_fts, rowid, title, body)"
    " VALUES ('delete', old.id, old.title, old.body); END",
    "CREATE TRIGGER routecore_portal_article_au AFTER UPDATE ON routecore_portal_article BEGIN"
    " INSERT INTO routecore_portal_article_fts(routecore_portal_article_fts, rowid, title, body)"
    " VALUES ('delete', old.id, old.title, old.body);"
    " INSERT INTO routecore_portal_article_fts(rowid, title, body)"
    " VALUES (new.id, new.title, new.body); END",
]
BACKWARD = [
    "DROP TRIGGER IF EXISTS routecore_portal_article_au",
    "DROP TRIGGER IF EXISTS routecore_portal_article_ad",
    "DROP TRIGGER IF EXISTS routecore_portal_article_ai",
    "DROP TABLE IF EXISTS routecore_portal_article_fts",
]


def forward(apps: object, schema_editor: object) -> None:
    connection = schema_editor.connection  # type: ignore[attr-defined]
    if connection.vendor != "sqlite":  # another database: the search falls back to LIKE
        return
    with connection.cursor() as cursor:
        for sql in FORWARD:
            cursor.execute(sql)


def backward(apps: object, schema_editor: object) -> None:
    connection = schema_editor.connection  # type: ignore[attr-defined]
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        for sql in BACKWARD:
            cursor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("routecore_portal", "0007_follow_ups_articles")]
    operations = [migrations.RunPython(forward, backward)]
