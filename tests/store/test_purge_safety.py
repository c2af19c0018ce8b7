"""B8/B5 retention never reaches outside its folders: a recording or voicemail reference is a
plain file name (checked when stored and again when purging); purge deletes exactly the files
the adapter wrote for that call (``ref`` and ``ref.EXT`` for the audio extensions), never
globs, never follows a symlink, and purges (and marks) only the kinds whose folder it is given.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routecore.engine import CallRecord
from routecore.errors import StoreError
from routecore.store import CallStore
from routecore.store.calls import AUDIO_EXTENSIONS, is_plain_reference

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 24, 10, tzinfo=SH).timestamp()
OLD = datetime(2026, 1, 5, 10, tzinfo=SH).timestamp()  # past both retentions
RECENT = datetime(2026, 11, 23, 10, tzinfo=SH).timestamp()  # within both

HOSTILE = [
    "../outside/victim",
    "../outside/victim.wav",
    "..",
    ".",
    "",
    "*",
    "*.wav",
    "[ab]",
    "?",
    "link/victim",
    "sub/../../outside/victim",
    ".hidden",
    "-rf",
    "a\x00b",
    "call-1/",
    "x" * 300,
    "录音/1",
]


def _insert_raw(db_path: Path, call_id: str, start: float, recording, voicemail) -> None:
    """A record as a store of an earlier release (or another writer) may hold it: unchecked."""
    db = sqlite3.connect(db_path)
    db.execute(
        "INSERT INTO calls (did, start, call_id, kind, caller, caller_kind, branches, tried,"
        " talk_seconds, recorded, recording, voicemail, outcome)"
        " VALUES ('8006001007', ?, ?, 'inbound', '139', 'mobile', '[]', '[]', 0, 0, ?, ?,"
        " 'answered')",
        (start, call_id, recording, voicemail),
    )
    db.commit()
    db.close()


def _tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (not following symlinks) with its content."""
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            p = Path(dirpath) / name
            if not p.is_symlink():
                out[str(p.relative_to(root))] = p.read_bytes()
    return out


@pytest.fixture
def layout(tmp_path):
    """rec/ and vm/ folders beside an outside/ folder that purge must never touch; rec/ holds
    a symlink to outside/ (a folder) and a symlinked file."""
    outside, rec, vm = tmp_path / "outside", tmp_path / "rec", tmp_path / "vm"
    for d in (outside, rec, vm):
        d.mkdir()
    for name in ("victim", "victim.wav", "a.wav", "b.wav"):
        (outside / name).write_bytes(b"keep " + name.encode())
    (rec / "link").symlink_to(outside, target_is_directory=True)
    (rec / "sym.wav").symlink_to(outside / "victim.wav")
    return tmp_path


@pytest.fixture
def calls_at(located):
    """The call store beside the layout, on both engines."""
    return located("calls.db")


@pytest.mark.parametrize("reference", HOSTILE)
def test_a_record_whose_reference_is_not_a_plain_file_name_is_refused(located, reference):
    with CallStore(located("calls.db")) as store:
        for field in ("recording", "voicemail"):
            record = CallRecord("c1", "8006001007", "139", start=OLD, **{field: reference})
            with pytest.raises(StoreError, match="not a plain file name"):
                store.add(record)
            with pytest.raises(StoreError, match="not a plain file name"):
                store.add_many([CallRecord("ok", "8006001007", "139", start=OLD), record])
        assert store.calls() == []  # add_many stores all or none


def test_purge_deletes_exactly_the_calls_own_files_never_another_calls(calls_at, layout):
    rec = layout / "rec"
    # call-1's own files, and call-1.2's (a recent call whose name starts the same)
    for name in ("call-1", "call-1.wav", "call-1.mp3", "call-1.2.wav", "call-1.wav.bak"):
        (rec / name).write_bytes(b"x")
    with CallStore(calls_at) as store:
        store.add(CallRecord("c1", "8006001007", "139", start=OLD, recording="call-1"))
        store.add(CallRecord("c2", "8006001007", "139", start=RECENT, recording="call-1.2"))
        done = store.purge(NOW, recordings_dir=rec)
    assert [(p.call_id, sorted(Path(f).name for f in p.files)) for p in done] == [
        ("c1", ["call-1", "call-1.mp3", "call-1.wav"])
    ]
    assert sorted(p.name for p in rec.iterdir()) == [
        "call-1.2.wav", "call-1.wav.bak", "link", "sym.wav",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("old", "recent", "files"),
    [
        ("rec-1", "rec-1.wav", ["rec-1.wav"]),  # a recent reference that is an old one's REF.EXT
        ("rec-1", "rec-1", ["rec-1.wav"]),  # a reference a PBX reused after a restart
        # on a case-insensitive folder REC-1.wav and rec-1.wav are one file: kept on any folder
        ("REC-1", "rec-1", ["REC-1.wav"]),
    ],
)
def test_purge_never_deletes_a_file_of_a_call_still_within_retention(
    calls_at, layout, old, recent, files
):
    rec = layout / "rec"
    for name in files:
        (rec / name).write_bytes(b"recent")
    with CallStore(calls_at) as store:
        store.add(CallRecord("c1", "8006001007", "139", start=OLD, recording=old))
        store.add(CallRecord("c2", "8006001007", "139", start=RECENT, recording=recent))
        done = store.purge(NOW, recordings_dir=rec)
    assert [(p.call_id, p.files) for p in done] == [("c1", ())]  # marked, nothing deleted
    assert all((rec / name).read_bytes() == b"recent" for name in files)


def test_purge_never_follows_a_symlink_out_of_its_folder(layout):
    rec = layout / "rec"
    before = _tree(layout / "outside")
    db = layout / "calls.db"
    CallStore(db).close()
    _insert_raw(db, "c-link", OLD, "link/victim", None)  # through a symlinked folder
    with CallStore(db) as store:
        store.add(CallRecord("c-sym", "8006001007", "139", start=OLD, recording="sym"))
        done = store.purge(NOW, recordings_dir=rec)
    assert _tree(layout / "outside") == before
    assert (rec / "sym.wav").is_symlink() and (rec / "link").is_symlink()
    assert [(p.call_id, p.files) for p in done] == [("c-sym", ())]  # a symlink is no file of it


@pytest.mark.parametrize("reference", ["../outside/victim", "*", "[ab]", "/abs/victim"])
def test_a_stored_reference_that_is_not_a_plain_name_is_neither_deleted_nor_marked(
    layout, reference
):
    rec = layout / "rec"
    if reference == "/abs/victim":
        reference = str(layout / "outside" / "victim")
    for name in ("a.wav", "b.wav", "a", "b"):
        (rec / name).write_bytes(b"x")
    before = _tree(layout / "outside"), _tree(rec)
    db = layout / "calls.db"
    CallStore(db).close()
    _insert_raw(db, "bad", OLD, reference, None)
    with CallStore(db) as store:
        assert store.purge(NOW, recordings_dir=rec) == []
        (row,) = store.calls()
    assert row["recording_purged"] is None
    assert (_tree(layout / "outside"), _tree(rec)) == before


def test_purge_without_a_folder_neither_deletes_nor_marks_that_kind(calls_at, layout):
    rec, vm = layout / "rec", layout / "vm"
    (rec / "rec-old.wav").write_bytes(b"x")
    (vm / "vm-old.wav").write_bytes(b"x")
    with CallStore(calls_at) as store:
        store.add(CallRecord("r", "8006001007", "139", start=OLD, recording="rec-old"))
        store.add(CallRecord("v", "8006001007", "139", start=OLD, voicemail="vm-old"))
        assert [p.kind for p in store.purge(NOW, voicemail_dir=vm)] == ["voicemail"]
        assert [r["recording"] for r in store.recordings()] == ["rec-old"]  # not marked
        assert [p.kind for p in store.purge(NOW, recordings_dir=rec)] == ["recording"]
        assert store.recordings() == [] and store.voicemails() == []
    assert sorted(p.name for p in rec.iterdir()) == ["link", "sym.wav"]
    assert list(vm.iterdir()) == []


def test_purge_into_a_folder_that_does_not_exist_is_refused_and_marks_nothing(tmp_path):
    with CallStore(tmp_path / "calls.db") as store:
        store.add(CallRecord("r", "8006001007", "139", start=OLD, recording="rec-old"))
        with pytest.raises(StoreError, match="not a directory"):
            store.purge(NOW, recordings_dir=tmp_path / "typo")
        assert [r["recording"] for r in store.recordings()] == ["rec-old"]


_REFERENCES = st.one_of(
    st.sampled_from([*HOSTILE, "call-1", "rec-1", "victim", "a", "b"]),
    st.text(
        alphabet=st.sampled_from([*"ab.-_/*?[]!\\~ \x00\n", "录", "é", "\u200b"]),
        max_size=12,
    ),
    st.text(max_size=300),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(refs=st.lists(_REFERENCES, min_size=1, max_size=6), dry_run=st.booleans())
def test_random_references_never_delete_or_mark_anything_outside_the_folder(refs, dry_run):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        outside, rec = root / "outside", root / "rec"
        outside.mkdir(), rec.mkdir()
        for name in ("victim", "victim.wav", "a.wav", "b.wav", "call-1.wav"):
            (outside / name).write_bytes(b"keep")
        (rec / "link").symlink_to(outside, target_is_directory=True)
        (rec / "recent.wav").write_bytes(b"keep")  # a call within retention
        (rec / "a.wav").write_bytes(b"x")
        (rec / "call-1.2.wav").write_bytes(b"keep")  # another call's, within retention
        db = root / "calls.db"
        CallStore(db).close()
        _insert_raw(db, "recent", RECENT, "recent", None)
        _insert_raw(db, "recent2", RECENT, "call-1.2", None)
        for i, ref in enumerate(refs):
            _insert_raw(db, f"c{i}", OLD, ref, ref)
        outside_before = _tree(outside)
        rec_before = set(_tree(rec))
        with CallStore(db) as store:
            for ref in refs:  # the store's own check agrees with the rule (a recent call: kept)
                record = CallRecord("new", "8006001007", "139", start=RECENT, recording=ref)
                if is_plain_reference(ref):
                    store.add(record)
                else:
                    with pytest.raises(StoreError):
                        store.add(record)
            done = store.purge(NOW, recordings_dir=rec, voicemail_dir=rec, dry_run=dry_run)
            rows = {r["call_id"]: r for r in store.calls()}
        assert _tree(outside) == outside_before
        allowed = {
            name
            for ref in refs
            if is_plain_reference(ref)
            for name in (ref, *(f"{ref}.{ext}" for ext in AUDIO_EXTENSIONS))
        }
        removed = rec_before - set(_tree(rec))
        assert removed <= allowed
        assert not (dry_run and removed)
        assert {"recent.wav", "call-1.2.wav"} <= set(_tree(rec))
        for p in done:
            assert is_plain_reference(p.reference)
            assert all(Path(f).parent == rec for f in p.files)
        for i, ref in enumerate(refs):
            row = rows[f"c{i}"]
            marked = row["recording_purged"] is not None
            assert marked == (is_plain_reference(ref) and not dry_run)
        assert rows["recent"]["recording_purged"] is None
