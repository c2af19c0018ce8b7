"""The AGI codec (routecore_asterisk.codec): the environment, replies, the conversation and the
command builders, with the bytes a real Asterisk 22 sent (transports: test_agi_transports.py)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable

import pytest
from agibytes import (
    EXPECTED,
    _env_bytes,
    _incoming,
    _ok,
    _parse,
    _shared_protocol,
    _transcript,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from routecore.adapter.errors import ChannelGone, ProtocolError, UnsafeValue
from routecore_asterisk import codec
from routecore_asterisk.codec import (
    MAX_COMMAND,
    MAX_HEADERS,
    MAX_LINE,
    MAX_REPLY_LINES,
    AgiReader,
    AgiSession,
    HangupNotice,
    Reply,
    parse_reply,
)

# ("<<" Asterisk → server | ">>" server → Asterisk, bytes)


# ---------------------------------------------------------------- the environment


def test_environment_of_the_transcript() -> None:
    env, _ = _parse(_incoming("c10"))
    assert env is not None
    assert env.network and env.script == "route" and env.query == {} and env.args == ()
    assert env.channel == "PJSIP/caller-00000000"
    assert env.uniqueid == "rcpbx-1796174071.0"
    assert (env.callerid, env.calleridname) == ("13800138000", "13800138000")
    assert (env.dnid, env.extension, env.context) == ("4006001003", "4006001003", "from-400")
    assert env.values["agi_accountcode"] == "" and env.values["agi_rdnis"] == "unknown"
    assert env.values["agi_version"] == "22.10.1" and len(env.values) == 22
    env11, _ = _parse(_incoming("c11"))
    assert env11 is not None and env11.callerid == "1002" and env11.script == "route"


def test_environment_of_the_answer_subroutine() -> None:
    data = _env_bytes().replace(b"script: route\n", b"script: answered?call=c1&x=a%20b&e=\n")
    env, items = _parse([data])
    assert env is not None and items == []
    assert env.script == "answered" and env.query == {"call": "c1", "x": "a b", "e": ""}


def test_environment_of_a_process_per_call_agi() -> None:
    data = (
        b"agi_request: route.py\r\nagi_channel: PJSIP/caller-00000002\r\n"
        b"agi_arg_1: a b\r\nagi_arg_2: \r\nagi_arg_3: c\r\nagi_arg_5: gap\r\n\r\n"
    )
    env, _ = _parse([data])
    assert env is not None and not env.network
    assert env.script == "route.py" and env.query == {}
    assert env.args == ("a b", "", "c")
    assert env.channel == "PJSIP/caller-00000002" and env.callerid == ""


def test_environment_without_agi_network_script() -> None:
    env, _ = _parse([b"agi_network: yes\nagi_request: agi://127.0.0.1:4573/out?did=400\n\n"])
    assert env is not None and env.script == "out" and env.query == {"did": "400"}


def test_environment_values_may_be_any_bytes_names_may_not() -> None:
    env, _ = _parse([b"agi_calleridname: \xff\xfeZ\n\n"])
    assert env is not None and env.calleridname == "\ufffd\ufffdZ"
    for bad in [
        b"agi_x:1\n\n",  # no ": "
        b"AGI_X: 1\n\n",
        b"foo: bar\n\n",
        b"agi_: 1\n\n",
        b"agi_\xc3\xa9: 1\n\n",
        b"agi_x: 1\nagi_x: 2\n\n",  # repeated
        b"\n",  # empty environment
        b"HANGUP\n",  # only after the environment
        b"200 result=0\n",
    ]:
        with pytest.raises(ProtocolError):
            _parse([bad])


def test_environment_bounds() -> None:
    lines = b"".join(b"agi_h%d: v\n" % i for i in range(MAX_HEADERS))
    env, _ = _parse([lines + b"\n"])
    assert env is not None and len(env.values) == MAX_HEADERS
    with pytest.raises(ProtocolError, match="environment lines"):
        _parse([lines + b"agi_more: v\n\n"])
    longest = b"agi_x: " + b"v" * (MAX_LINE - len(b"agi_x: \n")) + b"\n"
    env, _ = _parse([longest + b"\n"])
    assert env is not None and len(longest) == MAX_LINE
    with pytest.raises(ProtocolError, match="longer than"):
        _parse([b"agi_x: v" + longest + b"\n"])
    fields = "&".join(f"f{i}=1" for i in range(codec.MAX_QUERY_FIELDS + 1))
    with pytest.raises(ProtocolError, match="query"):
        _parse([b"agi_network: yes\nagi_network_script: s?%s\n\n" % fields.encode()])


def test_a_line_without_newline_fails_as_soon_as_it_is_too_long() -> None:
    reader = AgiReader()
    reader.feed(b"agi_x: " + b"v" * (MAX_LINE - 8))
    with pytest.raises(ProtocolError, match="longer than"):
        reader.feed(b"vv")
    with pytest.raises(ProtocolError, match="already failed"):
        reader.feed(b"\n")


# ---------------------------------------------------------------- replies


def test_every_reply_of_the_transcript() -> None:
    for conn, expected in EXPECTED.items():
        env, items = _parse(_incoming(conn))
        assert env is not None and items == expected, conn
        one_chunk = b"".join(_incoming(conn))
        assert _parse([one_chunk]) == (env, expected)


def test_the_transcript_split_at_every_byte() -> None:
    for conn, expected in EXPECTED.items():
        data = b"".join(_incoming(conn))
        whole = _parse([data])
        for cut in range(len(data) + 1):
            assert _parse([data[:cut], data[cut:]]) == whole
        assert _parse([data[i : i + 1] for i in range(len(data))]) == whole
        assert whole[1] == expected


@given(st.data())
@settings(max_examples=50, deadline=None)
def test_the_transcript_split_anywhere(data: st.DataObject) -> None:
    for conn, expected in EXPECTED.items():
        raw = b"".join(_incoming(conn))
        cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=12)))
        pieces = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
        env, items = _parse(pieces)
        assert env is not None and env.channel.startswith("PJSIP/caller-") and items == expected


@pytest.mark.parametrize(
    ("line", "result", "data", "endpos", "raw"),
    [
        ("200 result=1 (BUSY)", 1, "BUSY", None, "1"),
        ("200 result=1 ()", 1, "", None, "1"),
        ("200 result=0 endpos=8000", 0, None, 8000, "0"),
        ("200 result=12", 12, None, None, "12"),
        ("200 result=-1", -1, None, None, "-1"),
        ("200 result=12 (timeout)", 12, "timeout", None, "12"),
        ("200 result= (timeout)", None, "timeout", None, ""),
        ("200 result=012", 12, None, None, "012"),
        ("200 result=*12", None, None, None, "*12"),
        ("200 result=1 (a (b) c)", 1, "a (b) c", None, "1"),
        ("200 result=1 (x) endpos=5)", 1, "x) endpos=5", None, "1"),
        ("200 result=1 (x) endpos=5 y)", 1, "x) endpos=5 y", None, "1"),
        ("200 result=0 (dtmf) endpos=1234", 0, "dtmf", 1234, "0"),
        ("200 result=1 (speech) endpos=1234 results=foo bar", 1, "speech", 1234, "1"),
        ("200 result=-1 Gosub label not found", -1, None, None, "-1"),
    ],
)
def test_200_replies(
    line: str, result: int | None, data: str | None, endpos: int | None, raw: str
) -> None:
    reply = parse_reply(line)
    assert reply == Reply(200, result, data, endpos, line) and reply.raw_result == raw
    assert codec.check_reply(reply) is reply


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("510 Invalid or unknown command", ProtocolError),
        ("511 Command Not Permitted on a dead channel or intercept routine", ChannelGone),
        ("511 Command Not Permitted on a dead channel", ChannelGone),
        ("520 Invalid command syntax.  Proper usage not available.", ProtocolError),
        ("300 something new", ProtocolError),
    ],
)
def test_error_replies(line: str, error: type[Exception]) -> None:
    reply = parse_reply(line)
    assert reply == Reply(int(line[:3]), None, None, None, line) and reply.raw_result == ""
    with pytest.raises(error, match=re.escape(line)):
        codec.check_reply(reply)


@pytest.mark.parametrize(
    "line", ["200", "200 result 1", "200 foo", "200 result=1 (abc", "abc", "20 x", "2000", "20a"]
)
def test_malformed_replies(line: str) -> None:
    with pytest.raises(ProtocolError):
        parse_reply(line)
    with pytest.raises(ProtocolError):
        _parse([_env_bytes(), line.encode() + b"\n"])


USAGE = [
    "520-Invalid command syntax.  Proper usage follows:",
    " Usage: GET VARIABLE <variablename>",
    "Example return code: 200 result=1 (testvariable)",
    "HANGUP",
    "",
    "520 End of proper usage.",
]


def test_multi_line_520_is_one_reply() -> None:
    data = "\n".join(USAGE).encode() + b"\n200 result=0\n"
    _, items = _parse([_env_bytes(), data])
    assert items == [Reply(520, None, None, None, "\n".join(USAGE)), _ok("200 result=0", 0)]
    glued = [*USAGE[:2], USAGE[2] + USAGE[-1]]  # usage text without its final newline
    _, items = _parse([_env_bytes(), "\r\n".join(glued).encode() + b"\r\n"])
    assert items == [Reply(520, None, None, None, "\n".join(glued))]
    assert isinstance(items[0], Reply)
    with pytest.raises(ProtocolError, match="Proper usage"):
        codec.check_reply(items[0])


def test_multi_line_bound() -> None:
    longest = [USAGE[0]] + ["text"] * (MAX_REPLY_LINES - 2) + [USAGE[-1]]
    _, items = _parse([_env_bytes(), "\n".join(longest).encode() + b"\n"])
    assert len(items) == 1 and items[0] == Reply(520, None, None, None, "\n".join(longest))
    too_long = [USAGE[0]] + ["text"] * (MAX_REPLY_LINES - 1) + [USAGE[-1]]
    with pytest.raises(ProtocolError, match="multi-line"):
        _parse([_env_bytes(), "\n".join(too_long).encode() + b"\n"])


def test_hangup_anywhere_after_the_environment_and_crlf() -> None:
    data = b"HANGUP\r\n200 result=1 (BUSY)\r\n\r\nHANGUP\nHANGUP\n511 Command Not Permitted\n"
    _, items = _parse([_env_bytes() + data])
    assert items == [
        HangupNotice(),
        _ok("200 result=1 (BUSY)", 1, "BUSY"),
        HangupNotice(),
        HangupNotice(),
        Reply(511, None, None, None, "511 Command Not Permitted"),
    ]


def test_eof() -> None:
    for truncated in [
        b"agi_x: 1",
        b"agi_x: 1\n",
        _env_bytes() + b"200 res",
        _env_bytes() + b"520-x\n",
    ]:
        reader = AgiReader()
        reader.feed(truncated)
        with pytest.raises(ProtocolError, match="closed"):
            reader.eof()
    reader = AgiReader()
    reader.feed(_env_bytes() + b"200 result=0\n")
    reader.eof()
    reader.eof()  # idempotent
    assert not reader.finished and reader.next_item() == _ok("200 result=0", 0)
    assert reader.finished and reader.next_item() is None
    with pytest.raises(ProtocolError, match="after EOF"):
        reader.feed(b"x")


FRAGMENTS = [
    b"200 result=",
    b"1",
    b"-",
    b" (",
    b")",
    b" endpos=",
    b"HANGUP",
    b"\n",
    b"\r",
    b"520-",
    b"520 End of proper usage.",
    b"511 x",
    b"agi_x: ",
    b" ",
    b"\xff",
    b"v" * 1500,
]


@given(
    prefix=st.sampled_from([b"", b"agi_network: yes\nagi_network_script: route\n\n"]),
    body=st.lists(st.sampled_from(FRAGMENTS) | st.binary(max_size=12), max_size=40),
    cuts=st.lists(st.integers(0, 70_000), max_size=8),
)
@settings(max_examples=300, deadline=None)
def test_any_bytes_split_anywhere_only_raise_protocol_error(
    prefix: bytes, body: list[bytes], cuts: list[int]
) -> None:
    data = prefix + b"".join(body)
    bounds = sorted(min(cut, len(data)) for cut in cuts)
    pieces = [data[a:b] for a, b in zip([0, *bounds], [*bounds, len(data)], strict=True)]
    with contextlib.suppress(ProtocolError):
        env, items = _parse(pieces)
        assert all(isinstance(item, Reply | HangupNotice) for item in items)
        assert env is not None or not items


# ---------------------------------------------------------------- the conversation (sans-IO)


def _session() -> AgiSession:
    session = AgiSession()
    session.reader.feed(_env_bytes())
    assert session.environment is not None
    return session


def test_session_inline_hangup_is_not_a_reply() -> None:
    session = _session()
    dial = codec.exec_("Dial", "Local/13800138001@destinations,20")
    assert session.start(dial) == dial and session.pending == dial
    session.reader.feed(b"HANGUP\n")
    assert session.poll() is None and session.hung_up
    session.reader.feed(b"200 result=-1\n")
    assert session.poll() == _ok("200 result=-1", -1) and session.pending is None
    with pytest.raises(ChannelGone):
        session.start(codec.get_variable("DIALSTATUS"))
    assert session.pending is None
    status = codec.get_variable("DIALSTATUS")
    assert session.start(status, after_hangup=True) == status
    session.reader.feed(b"511 Command Not Permitted on a dead channel or intercept routine\n")
    with pytest.raises(ChannelGone, match="511"):
        session.poll()


def test_session_511_marks_hung_up_and_510_520_are_protocol_errors() -> None:
    session = _session()
    session.start(codec.answer())
    session.reader.feed(b"511 Command Not Permitted on a dead channel\n")
    with pytest.raises(ChannelGone):
        session.poll()
    assert session.hung_up
    for reply in [b"510 Invalid or unknown command\n", b"520 Invalid command syntax.\n"]:
        session = _session()
        session.start(codec.command("NOPE"))
        session.reader.feed(reply)
        with pytest.raises(ProtocolError, match="refused"):
            session.poll()
        assert not session.hung_up and session.pending is None


def test_session_out_of_step() -> None:
    session = _session()
    session.start(codec.answer())
    with pytest.raises(ProtocolError, match="no reply yet"):
        session.start(codec.answer())  # e.g. after a timeout
    session = _session()
    session.reader.feed(b"200 result=0\n")
    with pytest.raises(ProtocolError, match="unsolicited"):
        session.start(codec.answer())
    session = _session()
    session.start(codec.answer())
    session.abandon()  # an interrupted wait: its reply is dropped when it comes
    session.start(codec.get_variable("X"))
    session.reader.feed(b"200 result=0\n200 result=1 (v)\n")
    assert session.poll() == _ok("200 result=1 (v)", 1, "v")


def test_session_closed_and_lost() -> None:
    session = AgiSession()
    session.reader.eof()
    with pytest.raises(ChannelGone, match="before its environment"):
        _ = session.environment
    session = _session()
    session.start(codec.answer())
    session.reader.eof()
    with pytest.raises(ChannelGone, match="closed"):
        session.poll()
    with pytest.raises(ChannelGone):
        session.start(codec.answer())
    session = _session()
    session.start(codec.answer())
    session.connection_lost()
    with pytest.raises(ChannelGone):
        session.start(codec.answer())


@pytest.mark.parametrize(
    "cmd", [b"ANSWER", b"A\nB\n", b"A\r\n", b"A\x00B\n", b"A\x7f\n", b"X" * MAX_COMMAND + b"\n"]
)
def test_session_refuses_anything_but_one_command_line(cmd: bytes) -> None:
    with pytest.raises(UnsafeValue):
        _session().start(cmd)


# ---------------------------------------------------------------- command builders


def test_builders_reproduce_the_transcript() -> None:
    sent = [data for conn in ("c10", "c11") for d, data in _transcript()[conn] if d == ">>"]
    built = [
        codec.exec_("Dial", "Local/13800138001@destinations,20"),
        codec.get_variable("DIALSTATUS"),
        codec.get_variable("ANSWEREDTIME"),
        codec.hangup(),
        codec.exec_("Dial", "Local/13800138006@destinations&Local/13800138002@destinations,20"),
        codec.get_variable("DIALSTATUS"),
        codec.get_variable("DIALEDPEERNUMBER"),
        codec.get_variable("DIALEDPEERNAME"),
        codec.hangup(),
    ]
    assert built == sent


def test_builders_reproduce_the_readme() -> None:
    readme = (_shared_protocol() / "README.md").read_text()
    assert "`GET DATA main_menu 6000 3`" in readme and '`STREAM FILE welcome ""`' in readme
    assert "`WAIT FOR DIGIT 10000`" in readme
    assert codec.get_data("main_menu", 6000, 3) == b"GET DATA main_menu 6000 3\n"
    assert codec.stream_file("welcome") == b'STREAM FILE welcome ""\n'
    assert codec.wait_for_digit(10000) == b"WAIT FOR DIGIT 10000\n"
    found = re.search(r"`(EXEC Dial [^`]*)\\n`", readme)
    assert found is not None
    app, args = found.group(1).split(" ")[1:]
    assert codec.exec_(app, args) == found.group(1).encode() + b"\n"


def test_builders() -> None:
    assert codec.answer() == b"ANSWER\n" and codec.hangup() == b"HANGUP\n"
    assert codec.stream_file("vm/x", "12#*") == b'STREAM FILE vm/x "12#*"\n'
    assert codec.exec_("Hangup", "") == b'EXEC Hangup ""\n'
    assert codec.exec_("Playback", "a b") == b'EXEC Playback "a b"\n'
    assert codec.set_variable("X", "1") == b'SET VARIABLE X "1"\n'
    assert codec.set_variable("CONFBRIDGE(bridge,max_members)", "") == (
        b'SET VARIABLE CONFBRIDGE(bridge,max_members) ""\n'
    )
    assert codec.verbose("hello world", 3) == b'VERBOSE "hello world" 3\n'
    assert codec.wait_for_digit(-1) == b"WAIT FOR DIGIT -1\n"
    assert codec.command("RECORD", "FILE", "f", "wav", "#", "60000") == (
        b"RECORD FILE f wav # 60000\n"
    )
    assert codec.command("X" * (MAX_COMMAND - 1)) == b"X" * (MAX_COMMAND - 1) + b"\n"
    refused: list[Callable[[], bytes]] = [
        lambda: codec.command(),
        lambda: codec.command("X" * MAX_COMMAND),
        lambda: codec.command("é" * (MAX_COMMAND // 2)),
        lambda: codec.command('"#"'),
        lambda: codec.exec_("Dial", 'a"b'),
        lambda: codec.exec_("Dial", "a\\b"),
        lambda: codec.exec_("Dial", "a\nEXEC System rm"),
        lambda: codec.exec_("Di al", "x"),
        lambda: codec.exec_("", "x"),
        lambda: codec.get_variable("A\rB"),
        lambda: codec.get_variable("A\tB"),
        lambda: codec.set_variable("X", "a\x00"),
        lambda: codec.stream_file("welcome", "1a"),
        lambda: codec.get_data("f", -1, 3),
        lambda: codec.get_data("f", 1000, 0),
        lambda: codec.get_data("f", True, 3),
        lambda: codec.wait_for_digit(-2),
        lambda: codec.verbose("x", 5),
        lambda: codec.verbose("x", 0),
        lambda: codec.verbose("\u2028"),
    ]
    for call in refused:
        with pytest.raises(UnsafeValue):
            call()


def _asterisk_words(line: str) -> list[str]:
    """The words Asterisk's parse_args takes from a command line: spaces and tabs split words
    outside double quotes, ``"`` toggles quoting (and starts a word), ``\\`` escapes."""
    words: list[str] = []
    word: list[str] | None = None
    quoted = escaped = False
    for char in line:
        if char == '"' and not escaped:
            quoted = not quoted
            if word is None:
                word = []
        elif char in " \t" and not quoted and not escaped:
            if word is not None:
                words.append("".join(word))
            word = None
        elif char == "\\" and not escaped:
            escaped = True
        else:
            word = [*(word or []), char]
            escaped = False
    if word is not None:
        words.append("".join(word))
    return words


def _one_safe_line(out: bytes) -> list[str]:
    assert out.endswith(b"\n") and out.count(b"\n") == 1 and len(out) <= MAX_COMMAND
    assert not re.search(rb"[\x00-\x1f\x7f]", out[:-1])
    text = out[:-1].decode()
    assert text.isprintable()
    return _asterisk_words(text)


@given(
    words=st.lists(st.text(max_size=40), min_size=1, max_size=6),
    big=st.text(min_size=600, max_size=1100),
)
@settings(max_examples=100, deadline=None)
def test_builders_given_any_text(words: list[str], big: str) -> None:
    cases: list[tuple[Callable[[], bytes], list[str]]] = [
        (lambda: codec.command(*words), words),
        (lambda: codec.command(*words, big), [*words, big]),
        (lambda: codec.exec_("Dial", words[0]), ["EXEC", "Dial", words[0]]),
        (lambda: codec.exec_(words[0], "x"), ["EXEC", words[0], "x"]),
        (lambda: codec.get_variable(words[0]), ["GET", "VARIABLE", words[0]]),
        (lambda: codec.set_variable(words[0], words[-1]), ["SET", "VARIABLE", words[0], words[-1]]),
        (lambda: codec.verbose(words[0], 2), ["VERBOSE", words[0], "2"]),
        (lambda: codec.stream_file(words[0]), ["STREAM", "FILE", words[0], ""]),
        (lambda: codec.get_data(words[0], 5, 1), ["GET", "DATA", words[0], "5", "1"]),
    ]
    for build, expected in cases:
        try:
            out = build()
        except UnsafeValue:
            continue
        assert _one_safe_line(out) == expected  # Asterisk reads back exactly these words
