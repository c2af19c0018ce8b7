"""The ``routecore`` command never prints a traceback: random argument lists, drawn from the
real subcommands and options with random (and hostile) values, always end with one of the
documented exit codes (``routecore.cli``: 0 to 4) and, when they fail, a message rather than a
stack. Everything runs in a scratch folder holding copies of the examples, a flow store with
published versions, an image, a state file and a call store with recordings."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import routecore
from routecore.cli import EXIT_ERROR, EXIT_INVALID, EXIT_OK, EXIT_REVIEW, EXIT_USAGE, main
from routecore.engine import CallRecord
from routecore.store import CallStore

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CODES = {EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_REVIEW, EXIT_ERROR}
DIDS = ["4006001001", "4006001003", "8006001007", "4009999999"]


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    """A folder set up once: example copies, a store with published versions, an image, a
    state file, a call store, recording and voicemail folders, and some broken inputs."""
    root = Path(tempfile.mkdtemp(prefix="routecore-fuzz-"))
    (root / "flows").mkdir()
    for p in EXAMPLES.glob("*.yaml"):
        shutil.copy(p, root / "flows" / p.name)
    (root / "broken.yaml").write_text("number: [\n")
    (root / "deep.json").write_text('{"a": ' * 300 + "1" + "}" * 300)
    (root / "garbage.db").write_bytes(b"not a database" * 64)
    (root / "script.txt").write_text("1\n2\nanswer:30\nhangup\n")
    (root / "rec").mkdir(), (root / "vm").mkdir()
    (root / "rec" / "rec-1.wav").write_bytes(b"RIFF")
    routecore.State.create(root / "state", destinations=64, memory=16, numbers=4)
    with CallStore(root / "calls.db") as calls:
        calls.add(CallRecord("c1", "4006001003", "139", start=1.7e9, recording="rec-1"))
        calls.add(CallRecord("c2", "4006001006", "139", start=1.7e9, voicemail="vm-1"))
    with _inside(root):
        for did in ("4006001001", "4006001003"):
            for argv in (
                ["draft", f"flows/{did}.yaml", "--author", "ann"],
                ["submit", did, "1", "--by", "ann"],
                ["approve", did, "1", "--by", "bob"],
                ["publish", did, "1", "--by", "carol"],
            ):
                assert main(argv) == EXIT_OK
    yield root
    shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def _inside(root: Path) -> Iterator[None]:
    """Run in ``root`` with the command's defaults pointing there (never a real state file)."""
    env = {
        "ROUTECORE_STORE": "flows.db",
        "ROUTECORE_IMAGE": "routes.img",
        "ROUTECORE_CALLS": "calls.db",
        "ROUTECORE_STATE": "no-such-state",
    }
    saved = {k: os.environ.get(k) for k in env}
    cwd = os.getcwd()
    os.environ.update(env)
    os.chdir(root)
    try:
        yield
    finally:
        os.chdir(cwd)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# -- values -------------------------------------------------------------------------------------

_junk = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/\\\x00"),
    max_size=12,
).filter(lambda s: not s.startswith("."))
_int_text = st.integers(-(10**20), 10**20).map(str)
_files = st.sampled_from(
    [
        *(f"flows/{p.name}" for p in EXAMPLES.glob("*.yaml")),
        "broken.yaml",
        "deep.json",
        "missing.yaml",
        "garbage.db",
        "script.txt",
        "rec",
    ]
)
_outputs = st.sampled_from(["out.img", "routes.img", "other.img", "out.csv", "rec", "sub/x.img"])
_stores = st.sampled_from(["flows.db", "calls.db", "garbage.db", "new.db", "rec", "state"])
_dids = st.one_of(st.sampled_from(DIDS), _int_text, _junk)
_versions = st.one_of(st.sampled_from(["1", "2", "0", "-1"]), _int_text, _junk)
_people = st.one_of(st.sampled_from(["ann", "Ann ", "bob", "ＢＯＢ", "", " ", "carol"]), _junk)
_dates = st.one_of(
    st.sampled_from(
        [
            "2026-11-23",
            "2026-11-23T10:00",
            "0001-01-01",
            "9999-12-31",
            "9999-12-31T23:59",
            "2026-02-30",
            "2026-11-23T10:00+99:00",
            "1969-12-31",
        ]
    ),
    _junk,
)
_zones = st.one_of(
    st.sampled_from(
        ["Asia/Shanghai", "UTC", "../../etc/passwd", "posix/Asia/Shanghai", "Nope/Zone", "", "Asia"]
    ),
    _junk,
)
_steps = st.one_of(
    st.sampled_from(
        [
            "1", "2", "0", "*", "#", "801#", "timeout", "answer", "answer:95", "answer:604800",
            "pickup", "keepalive", "busy", "noanswer", "failed", "voicemail:vm-1:17",
            "voicemail", "survey:2", "survey:9", "joined", "notjoined", "wait:30",
            "wait:999999999", "hangup", '{"type":"digits","digits":"1"}', '{"type":"play"}',
        ]
    ),
    _junk,
)  # fmt: skip


Strategy = st.SearchStrategy


def _options(pairs: dict[str, Strategy[str]], flags: tuple[str, ...] = ()) -> Strategy[list[str]]:
    """Some of the options, each with a value, in random order; some flags."""
    option = st.sampled_from(sorted(pairs)).flatmap(
        lambda name: pairs[name].map(lambda value, name=name: [name, value])
    )
    flag = st.sampled_from(flags).map(lambda f: [f]) if flags else st.nothing()
    return st.lists(st.one_of(option, flag), max_size=4).map(lambda xs: [a for x in xs for a in x])


REVIEW = {"--reason": _junk, "--image": _outputs, "--state": _stores}


def _with(name: str, values: Strategy[str], rest: Strategy[list[str]]) -> Strategy[list[str]]:
    """``rest`` with option ``name`` (a required one) added nine times in ten."""
    return st.tuples(st.integers(0, 9), values, rest).map(
        lambda t: [name, t[1], *t[2]] if t[0] else t[2]
    )


COMMANDS: dict[str, st.SearchStrategy[list[str]]] = {
    "validate": st.lists(_files, min_size=1, max_size=3),
    "compile": st.tuples(st.lists(_files, min_size=1, max_size=3), _options({"-o": _outputs})).map(
        lambda t: [*t[0], *t[1]]
    ),
    "draft": st.tuples(_files, _with("--author", _people, _options({"--number": _dids}))).map(
        lambda t: [t[0], *t[1]]
    ),
    **{
        name: st.tuples(_dids, _versions, _with("--by", _people, _options(REVIEW))).map(
            lambda t: [t[0], t[1], *t[2]]
        )
        for name in ("submit", "approve", "reject", "publish", "rollback")
    },
    "sync": _options({"--image": _outputs, "--state": _stores}),
    "history": _dids.map(lambda d: [d]),
    "diff": st.tuples(_dids, _versions, _versions).map(list),
    "show": st.tuples(_dids, _options({"--image": _outputs})).map(lambda t: [t[0], *t[1]]),
    "simulate": st.tuples(
        _dids,
        st.one_of(st.sampled_from(["13900000000", "", "anonymous"]), _junk),
        st.lists(_steps, max_size=5),
        _with(
            "--flow",
            st.one_of(st.just("flows/4006001003.yaml"), _files),
            _options(
                {
                "--image": _outputs,
                "--at": _dates,
                "--tz": _zones,
                "--state": _stores,
                "--seed": _int_text,
                "--call-id": st.one_of(st.just("sim-2"), _junk),
                "--outbound": _dids,
                    "--script": st.one_of(st.just("-"), _files),
                }
            ),
        ),
    ).map(lambda t: [t[0], t[1], *t[2], *t[3]]),
    "report": st.tuples(
        st.one_of(st.sampled_from(["calls", "branches", "surveys", "recordings"]), _junk),
        _options(
            {
                "--number": _dids,
                "--from": _dates,
                "--to": _dates,
                "--tz": _zones,
                "--calls": _stores,
                "-o": _outputs,
            }
        ),
    ).map(lambda t: [t[0], *t[1]]),
    "purge": _options(
        {
            "--calls": _stores,
            "--recordings": st.sampled_from(["rec", "vm", "missing", "calls.db"]),
            "--voicemail": st.sampled_from(["rec", "vm", "missing"]),
            "--recording-months": st.one_of(st.sampled_from(["6", "0", "-1", "100000"]), _int_text),
            "--voicemail-days": st.one_of(st.sampled_from(["30", "0", str(10**400)]), _int_text),
            "--now": _dates,
            "--tz": _zones,
        },
        flags=("--dry-run",),
    ),
}  # fmt: skip


@st.composite
def command_lines(draw: st.DrawFn) -> list[str]:
    head = draw(_options({"--store": _stores}, flags=("--json",)))
    name, rest = draw(st.one_of(*(st.tuples(st.just(n), c) for n, c in COMMANDS.items())))
    argv = [*head, name, *rest]
    if draw(st.booleans()):
        argv.append("--json")
    if draw(st.integers(0, 9)) == 0:  # now and then a stray word or option anywhere
        argv.insert(draw(st.integers(0, len(argv))), draw(st.one_of(_junk, st.just("--nope"))))
    return argv


@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(argv=command_lines())
def test_random_command_lines_never_print_a_traceback_and_exit_with_a_documented_code(
    scratch, argv
):
    out, err = io.StringIO(), io.StringIO()
    saved_stdin = sys.stdin
    sys.stdin = io.StringIO("1\nhangup\n")
    try:
        with _inside(scratch), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as e:  # argparse: a usage error (2) or --help (0)
                code = e.code if isinstance(e.code, int) else EXIT_USAGE
    finally:
        sys.stdin = saved_stdin
    text = err.getvalue()
    event(f"{next(a for a in argv if a in COMMANDS) if set(argv) & set(COMMANDS) else '?'}: {code}")
    assert code in CODES, (argv, code, text)
    assert "Traceback" not in text, (argv, text)
    if code not in (EXIT_OK, EXIT_INVALID):  # one message (argparse adds its usage line)
        assert text.strip(), argv
