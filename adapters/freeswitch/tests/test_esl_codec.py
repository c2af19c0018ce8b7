"""The ESL codec against the real FreeSWITCH 1.10 bytes, its bounds, and random input."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routecore.adapter.errors import ProtocolError, UnsafeValue
from routecore_freeswitch.codec import (
    MAX_BODY,
    MAX_COMMAND,
    MAX_HEADERS,
    MAX_LINE,
    Event,
    Frame,
    FrameReader,
    command,
    sendmsg,
    sendmsg_execute,
    sendmsg_hangup,
)

CHANNEL = "71cef200-1bf0-46fb-b827-38adb8fe5e15"
EVENT_NAMES = [
    "CHANNEL_EXECUTE",
    "CHANNEL_PROGRESS_MEDIA",
    "CHANNEL_ANSWER",
    "CHANNEL_BRIDGE",
    "CHANNEL_UNBRIDGE",
    "CHANNEL_EXECUTE_COMPLETE",
    "CHANNEL_EXECUTE",
    "CHANNEL_HANGUP",
    "CHANNEL_EXECUTE_COMPLETE",
    "CHANNEL_UNPARK",
    "CHANNEL_EXECUTE_COMPLETE",
    "CHANNEL_STATE",
    "CHANNEL_STATE",
    "CHANNEL_HANGUP_COMPLETE",
]


def read_all(chunks: list[bytes]) -> list[Frame]:
    reader = FrameReader()
    frames: list[Frame] = []
    for chunk in chunks:
        reader.feed(chunk)
        while (frame := reader.next_frame()) is not None:
            frames.append(frame)
    reader.eof()
    return frames


def one_frame(data: bytes) -> Frame:
    frames = read_all([data])
    assert len(frames) == 1
    return frames[0]


def frame_error(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        read_all([data])


# --- the transcript -----------------------------------------------------------------------------


def test_each_chunk_is_one_frame(fs_chunks: list[bytes]) -> None:
    reader = FrameReader()
    for chunk in fs_chunks:
        reader.feed(chunk)
        assert reader.next_frame() is not None
        assert reader.next_frame() is None
    reader.eof()


def test_connect_reply(fs_chunks: list[bytes]) -> None:
    reply = one_frame(fs_chunks[0])
    assert reply.content_type == "command/reply"
    assert reply.body == b""
    assert "Content-Length" not in reply.headers
    assert len(reply.headers) > 150
    assert list(reply.headers)[-4:] == ["Content-Type", "Reply-Text", "Socket-Mode", "Control"]
    assert reply.reply_text == "%2BOK%0A"  # raw accessor
    data = reply.channel_data()
    assert data["Reply-Text"] == "+OK\n"
    assert data["Control"] == "full"
    assert data["Socket-Mode"] == "async"
    assert data["Caller-Caller-ID-Number"] == "13800138000"
    assert data["Channel-Destination-Number"] == "4006001003"
    assert data["Unique-ID"] == CHANNEL
    assert data["FreeSWITCH-IPv6"] == "fd00::2"
    assert reply.event() is None  # a reply, not an event


def test_plain_replies_are_not_decoded(fs_chunks: list[bytes]) -> None:
    frames = read_all(fs_chunks)
    assert [f.reply_text for f in frames[1:4]] == ["+OK Events Enabled", "+OK will linger", "+OK"]
    assert all(f.content_type == "command/reply" for f in frames[1:4])


def test_event_names_in_order(fs_chunks: list[bytes]) -> None:
    events = [e for f in read_all(fs_chunks) if (e := f.event()) is not None]
    assert [e.name for e in events] == EVENT_NAMES
    assert {e.uuid for e in events} == {CHANNEL}
    assert all(e.body == b"" for e in events)


def test_bridge_completion(fs_chunks: list[bytes]) -> None:
    events = [e for f in read_all(fs_chunks) if (e := f.event()) is not None]
    done = events[5]
    assert done.name == "CHANNEL_EXECUTE_COMPLETE"
    assert done.get("Application") == "bridge"
    assert done.get("Application-Data") == "loopback/13800138001/destinations"
    assert done.get("Application-Response") == "_none_"
    assert done.application_uuid == events[0].application_uuid
    assert done.application_uuid == "df62f817-bf79-40a9-b2df-6ff8feedd72b"
    assert done.variable("originate_disposition") == "SUCCESS"
    assert done.variable("DIALSTATUS") == "SUCCESS"
    assert done.variable("bridge_hangup_cause") == "NORMAL_CLEARING"
    assert done.variable("last_bridge_to") == "f715f6b5-0a94-467d-a138-9c129a938414"
    assert done.variable("bridge_channel") == "loopback/13800138001-a"
    assert done.variable("originated_legs") == (
        "f715f6b5-0a94-467d-a138-9c129a938414;Outbound Call;destinations"
    )
    assert done.raw_headers["variable_originated_legs"].endswith(
        "%3BOutbound%20Call%3Bdestinations"
    )
    assert done.variable("no_such_variable", "-") == "-"
    socket_done = events[10]
    assert socket_done.get("Application") == "socket"
    assert socket_done.get("Application-Data") == "127.0.0.1:8084 async full"


def test_hangup_complete(fs_chunks: list[bytes]) -> None:
    events = [e for f in read_all(fs_chunks) if (e := f.event()) is not None]
    hangup, final = events[7], events[-1]
    assert hangup.get("Hangup-Cause") == "NORMAL_CLEARING"
    assert final.name == "CHANNEL_HANGUP_COMPLETE"
    assert final.variable("billsec") == "3"
    assert final.get("Hangup-Cause") == "NORMAL_CLEARING"  # the header appears twice


def test_disconnect_notice(fs_chunks: list[bytes]) -> None:
    notice = read_all(fs_chunks)[-1]
    assert notice.content_type == "text/disconnect-notice"
    assert notice.headers["Content-Disposition"] == "linger"
    assert notice.headers["Controlled-Session-UUID"] == CHANNEL
    assert notice.headers["Channel-Name"] == "sofia/external/13800138000@127.0.0.1:5061"
    assert notice.headers["Linger-Time"] == "-1"
    assert notice.body == b""
    assert notice.event() is None


def test_byte_by_byte(fs_chunks: list[bytes]) -> None:
    stream = b"".join(fs_chunks)
    assert read_all([stream[i : i + 1] for i in range(len(stream))]) == read_all(fs_chunks)


def test_all_in_one_chunk(fs_chunks: list[bytes]) -> None:
    assert read_all([b"".join(fs_chunks)]) == read_all(fs_chunks)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(min_value=0, max_value=120_000), max_size=60))
def test_random_splits(fs_chunks: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(fs_chunks)
    bounds = [0, *sorted(c % (len(stream) + 1) for c in cuts), len(stream)]
    pieces = [stream[a:b] for a, b in itertools.pairwise(bounds)]
    assert read_all(pieces) == read_all(fs_chunks)


# --- builders -----------------------------------------------------------------------------------


def test_builders_match_the_transcript(transcript: list[tuple[str, bytes]]) -> None:
    sent = [data for direction, data in transcript if direction == ">>"]
    assert sent == [
        command("connect"),
        command("myevents"),
        command("linger"),
        sendmsg_execute("bridge", "loopback/13800138001/destinations"),
        sendmsg_execute("hangup", "NORMAL_CLEARING"),
    ]


def test_sendmsg_with_event_uuid() -> None:
    assert sendmsg_execute("answer", event_uuid="u-1", event_lock=False) == (
        b"sendmsg\ncall-command: execute\nexecute-app-name: answer\nEvent-UUID: u-1\n\n"
    )
    assert sendmsg_execute("playback", "a.wav", event_uuid="u-2") == (
        b"sendmsg\ncall-command: execute\nexecute-app-name: playback\nexecute-app-arg: a.wav\n"
        b"Event-UUID: u-2\nevent-lock: true\n\n"
    )
    assert sendmsg_hangup("USER_BUSY") == (
        b"sendmsg\ncall-command: hangup\nhangup-cause: USER_BUSY\n\n"
    )
    assert command("exit") == b"exit\n\n"


@pytest.mark.parametrize(
    "build",
    [
        lambda: command("myevents\n\nexit"),
        lambda: command(""),
        lambda: command("api " + "x" * MAX_COMMAND),
        lambda: sendmsg_execute("bridge", "user/1001\nexecute-app-name: system"),
        lambda: sendmsg_execute("bridge", "a\rb"),
        lambda: sendmsg_execute("bridge", "a\x00b"),
        lambda: sendmsg_execute("bridge", "a\u2028b"),
        lambda: sendmsg_execute("bridge", "a\ud800"),
        lambda: sendmsg_execute("bridge", " leading-space"),
        lambda: sendmsg_execute("", "x"),
        lambda: sendmsg_execute("bridge", "x", event_uuid="a\nb"),
        lambda: sendmsg_hangup(""),
        lambda: sendmsg_hangup("NORMAL\n"),
        lambda: sendmsg([("bad:name", "x")]),
        lambda: sendmsg([("", "x")]),
    ],
)
def test_builders_refuse_unsafe_values(build: object) -> None:
    assert callable(build)
    with pytest.raises(UnsafeValue):
        build()


def parse_sendmsg(data: bytes) -> dict[str, str]:
    """The header lines of a sendmsg, parsed as FreeSWITCH frames are."""
    assert data.startswith(b"sendmsg\n")
    return one_frame(data[len(b"sendmsg\n") :]).headers


@settings(max_examples=300, deadline=None)
@given(app=st.text(), arg=st.text(), event_uuid=st.none() | st.text(), lock=st.booleans())
def test_execute_round_trip(app: str, arg: str, event_uuid: str | None, lock: bool) -> None:
    try:
        data = sendmsg_execute(app, arg, event_uuid=event_uuid, event_lock=lock)
    except UnsafeValue:
        return
    expected = {"call-command": "execute", "execute-app-name": app}
    if arg:
        expected["execute-app-arg"] = arg
    if event_uuid is not None:
        expected["Event-UUID"] = event_uuid
    if lock:
        expected["event-lock"] = "true"
    headers = parse_sendmsg(data)
    assert headers == expected
    assert list(headers) == list(expected)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_hangup_and_command_round_trip(text: str) -> None:
    try:
        data = sendmsg_hangup(text)
    except UnsafeValue:
        pass
    else:
        assert parse_sendmsg(data) == {"call-command": "hangup", "hangup-cause": text}
    try:
        line = command(text)
    except UnsafeValue:
        return
    assert line == text.encode() + b"\n\n"
    assert line.count(b"\n") == 2


# --- bounds and malformed input -----------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["abc", "-1", "+5", "5 ", "1e3", "0x10", "", "\u0661\u0662", str(MAX_BODY + 1), "9" * 40],
)
def test_bad_content_length(value: str) -> None:
    frame_error(f"Content-Type: api/response\nContent-Length: {value}\n\n".encode())


def test_content_length_edges() -> None:
    assert one_frame(b"Content-Length: 0003\n\nabc").body == b"abc"
    assert one_frame(b"Content-Length: " + b"0" * 5000 + b"\n\n").body == b""
    body = b"x" * MAX_BODY
    assert one_frame(f"Content-Length: {MAX_BODY}\n\n".encode() + body).body == body


def test_line_and_header_bounds() -> None:
    assert one_frame(b"A: " + b"x" * (MAX_LINE - 3) + b"\n\n").headers["A"] == "x" * (MAX_LINE - 3)
    frame_error(b"A: " + b"x" * (MAX_LINE - 2) + b"\n\n")
    reader = FrameReader()
    reader.feed(b"A: " + b"x" * MAX_LINE)  # no newline yet: refused before it arrives
    with pytest.raises(ProtocolError):
        reader.next_frame()
    with pytest.raises(ProtocolError):  # the reader stays failed
        reader.next_frame()
    many = b"".join(f"H{i}: v\n".encode() for i in range(MAX_HEADERS))
    assert len(one_frame(many + b"\n").headers) == MAX_HEADERS
    frame_error(many + b"One-Too-Many: v\n\n")


def test_malformed_header_lines() -> None:
    frame_error(b"no colon here\n\n")
    frame_error(b": no name\n\n")
    assert one_frame(b"\n\nA:b\nB:   c\nC:\n\n").headers == {"A": "b", "B": "c", "C": ""}


def test_malformed_event_lines() -> None:
    """An event body's lines are checked whole although only the headers read are decoded."""
    for body in (b"Event-Name: X\nno colon here\n\n", b"Event-Name: X\n: no name\n\n"):
        with pytest.raises(ProtocolError):
            Event.parse(body)
    event = Event.parse(b"Event-Name: CHANNEL_X\nA: %2BOK%0A\nB:c:d\nA: second\n\n")
    assert (event.name, event.get("A"), event.get("B"), event.get("Z", "-")) == (
        "CHANNEL_X",
        "+OK\n",
        "c:d",
        "-",
    )
    assert event.raw_headers == {"Event-Name": "CHANNEL_X", "A": "%2BOK%0A", "B": "c:d"}


def test_truncated_stream(fs_chunks: list[bytes]) -> None:
    stream = b"".join(fs_chunks)
    for cut in (1, len(fs_chunks[0]) - 1, len(fs_chunks[0]) + 10, len(stream) - 1):
        with pytest.raises(ProtocolError):
            read_all([stream[:cut]])
    reader = FrameReader()
    reader.feed(b"Content-Length: 5\n\nab")
    assert reader.next_frame() is None
    with pytest.raises(ProtocolError):
        reader.eof()
    read_all([b"\n\n"])  # blank lines between frames are not a frame


def test_generic_content_types() -> None:
    frames = read_all(
        [
            b"Content-Type: api/response\nContent-Length: 11\n\n+OK 1 2 3\n\n",
            b"Content-Type: log/data\nContent-Length: 5\nLog-Level: 7\n\nhello",
            b"Content-Type: text/rude-rejection\nContent-Length: 13\n\nAccess Denied",
        ]
    )
    assert [f.content_type for f in frames] == ["api/response", "log/data", "text/rude-rejection"]
    assert frames[0].body == b"+OK 1 2 3\n\n"
    assert frames[1].headers["Log-Level"] == "7"
    assert frames[2].body == b"Access Denied"
    assert all(f.event() is None for f in frames)


def test_event_with_a_body_of_its_own() -> None:
    inner = b"+OK 7f4db78a\n"
    body = (
        b"Event-Name: BACKGROUND_JOB\nJob-Command-Arg: sofia/default/1005%20'%26park'\n"
        + f"Content-Length: {len(inner)}\n\n".encode()
        + inner
    )
    frame = one_frame(
        f"Content-Length: {len(body)}\nContent-Type: text/event-plain\n\n".encode() + body
    )
    event = frame.event()
    assert event is not None
    assert event.name == "BACKGROUND_JOB"
    assert event.get("Job-Command-Arg") == "sofia/default/1005 '&park'"
    assert event.body == inner
    assert event.uuid == "" and event.application_uuid == ""
    with pytest.raises(ProtocolError):
        Event.parse(b"Event-Name: X\nContent-Length: 10\n\nshort")
    with pytest.raises(ProtocolError):
        Event.parse(b"Event-Name: X\nContent-Length: 2\n\nlonger than two")
    with pytest.raises(ProtocolError):
        Event.parse(b"Event-Name: X\n\nbody without a length")
    with pytest.raises(ProtocolError):
        Event.parse(b"Event-Name: X\nbroken line\n\n")
    assert Event.parse(b"Event-Name: X\n").name == "X"


FRAGMENTS = st.sampled_from(
    [
        b"Content-Length: ",
        b"Content-Type: text/event-plain",
        b"Content-Type: command/reply",
        b"Event-Name: %41",
        b"Reply-Text: +OK",
        b": ",
        b":",
        b"\n",
        b"\n\n",
        b"0",
        b"12",
        b"-3",
        b"%",
        b"%zz",
        b"\xff\xfe",
        b"\x00",
    ]
)


def _exercise(chunks: list[bytes]) -> None:
    reader = FrameReader()
    try:
        for chunk in chunks:
            reader.feed(chunk)
            while (frame := reader.next_frame()) is not None:
                frame.event()
                frame.channel_data()
        reader.eof()
    except ProtocolError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=200), max_size=10))
def test_random_bytes_raise_only_protocol_errors(chunks: list[bytes]) -> None:
    _exercise(chunks)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(FRAGMENTS, max_size=12).map(b"".join), max_size=8))
def test_random_frames_raise_only_protocol_errors(chunks: list[bytes]) -> None:
    _exercise(chunks)
