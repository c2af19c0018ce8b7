"""Every page translated: the Chinese catalogue has a translation for every message, none
left fuzzy, and the pages render in Chinese by default and in English when asked."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from django.test import Client

PO = Path(__file__).resolve().parents[1] / "routecore_portal/locale/zh_Hans/LC_MESSAGES/django.po"


def _entries(text: str) -> list[tuple[str, str, bool]]:
    """(msgid, msgstr, fuzzy) of each entry of a .po file."""
    out = []
    for block in text.split("\n\n"):
        fuzzy = "#, fuzzy" in block
        parts: dict[str, str] = {}
        key = None
        for line in block.splitlines():
            m = re.match(r'^(msgid|msgstr) (".*")$', line)
            if m:
                key = m.group(1)
                parts[key] = ast.literal_eval(m.group(2))
            elif line.startswith('"') and key:
                parts[key] += ast.literal_eval(line)
        if "msgid" in parts:
            out.append((parts["msgid"], parts.get("msgstr", ""), fuzzy))
    return out


def test_every_message_has_a_chinese_translation():
    entries = [e for e in _entries(PO.read_text(encoding="utf-8")) if e[0]]
    assert len(entries) > 150
    missing = [msgid for msgid, msgstr, fuzzy in entries if not msgstr or fuzzy]
    assert not missing, missing
    for msgid, msgstr, _ in entries:
        assert sorted(re.findall(r"%\(\w+\)[sd]", msgid)) == sorted(
            re.findall(r"%\(\w+\)[sd]", msgstr)
        ), msgid


def test_the_pages_speak_chinese_by_default_and_english_on_request(a_client, stores):
    from portal_tests.common import A_DID, add_calls

    add_calls(stores["calls"], A_DID, 3)
    page = a_client.get(f"/n/{A_DID}/calls/").content.decode()
    assert "通话记录" in page and "Call records" not in page
    a_client.cookies["django_language"] = "en"
    english = a_client.get(f"/n/{A_DID}/calls/").content.decode()
    assert "Call records" in english and "通话记录" not in english
    assert Client().post("/i18n/setlang/", {"language": "en"}).status_code == 302


def test_django_leaves_the_process_local_time_alone():
    """Django sets TZ from TIME_ZONE at start; the portal puts the process's own back, so the
    rest of a process (or a test session) that loads it keeps its local time."""
    import os

    from django.conf import settings

    assert settings.TIME_ZONE == "Asia/Shanghai"
    assert os.environ.get("TZ") == settings.ORIGINAL_TZ
