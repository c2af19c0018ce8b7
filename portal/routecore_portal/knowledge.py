"""Searching the knowledge base in Chinese: SQLite FTS5 with the trigram tokenizer for three
characters or more (ranked by bm25), a plain substring match for shorter queries and on other
databases (B15, V5)."""

from __future__ import annotations

from typing import Any

from django.db import connection

from routecore_portal.models import Article

LIMIT = 50


def _fts_query(text: str) -> str:
    """``text`` as one FTS5 phrase (quotes doubled): never FTS5 syntax from the user."""
    return '"' + text.replace('"', '""') + '"'


def search(enterprise_id: int, text: str) -> list[Any]:
    """The enterprise's articles matching ``text``, best first."""
    text = " ".join(text.split())[:100]
    articles = Article.objects.filter(enterprise_id=enterprise_id)
    if not text:
        return list(articles[:LIMIT])
    if connection.vendor == "sqlite" and len(text) >= 3:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT rowid FROM routecore_portal_article_fts"
                " WHERE routecore_portal_article_fts MATCH %s ORDER BY rank LIMIT %s",
                [_fts_query(text), LIMIT * 4],
            )
            ids = [row[0] for row in cursor.fetchall()]
        found = {a.pk: a for a in articles.filter(pk__in=ids)}
        return [found[i] for i in ids if i in found][:LIMIT]
    from django.db.models import Q

    return list(articles.filter(Q(title__icontains=text) | Q(body__icontains=text))[:LIMIT])
