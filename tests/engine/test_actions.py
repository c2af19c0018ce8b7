"""routecore.engine.actions: construction checks, round trips and hostile input to every decoder."""

from __future__ import annotations

import json
import math
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import routecore
from routecore.engine import actions as A
from routecore.engine import wire as W
from routecore.engine.actions import (
    ActionError,
    Answered,
    CallerHungUp,
    CallStarted,
    Collect,
    Conference,
    ConferenceResult,
    Dial,
    DialResult,
    Digits,
    DropLeg,
    Hangup,
    KeepAlive,
    OutboundStarted,
    Play,
    Survey,
    SurveyResult,
    Voicemail,
    VoicemailResult,
)
from routecore.errors import RoutecoreError

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- strategies of valid values ------------------------------------------------------------------

_head = st.sampled_from("abcxyzABZ019_")
_tail = st.text(alphabet="abcxyzABZ0189_.-", max_size=20).filter(lambda s: ".." not in s)
names = st.builds(lambda h, t: h + t, _head, _tail).filter(lambda s: ".." not in s)
numbers = st.text(alphabet="0123456789", min_size=3, max_size=20)
agent_ids = st.integers(801, 899)

plays = st.builds(Play, names)
collects = st.builds(
    Collect,
    st.none() | names,
    st.integers(1, A.MAX_DIGITS),
    st.integers(1, 60),
    st.sampled_from(["#", None]),
)
dials = st.builds(
    Dial,
    st.lists(numbers, min_size=1, max_size=8, unique=True).map(tuple),
    st.booleans(),
    st.integers(5, 300),
    st.booleans(),
    st.none() | agent_ids | names,
)
dials_announcing_each = st.lists(numbers, min_size=2, max_size=6, unique=True).flatmap(
    lambda ts: st.builds(
        Dial,
        st.just(tuple(ts)),
        st.just(True),
        st.integers(5, 300),
        st.booleans(),
        st.lists(st.none() | agent_ids | names, min_size=len(ts), max_size=len(ts)).map(tuple),
    )
)
voicemails = st.builds(Voicemail, names, st.none() | names, st.integers(10, 600))
conferences = st.builds(Conference, names, st.integers(2, 50))
hangups = st.builds(Hangup, st.sampled_from(A.CAUSES))
actions = st.one_of(
    plays,
    collects,
    dials,
    dials_announcing_each,
    voicemails,
    conferences,
    st.just(Survey()),
    hangups,
    st.builds(DropLeg, numbers),
)

callers = (
    st.just("")
    | st.text(alphabet="0123456789", min_size=1, max_size=20).flatmap(
        lambda d: st.sampled_from([d, "+" + d, f'"Zhang San" <{d}>', f"sip:{d}@10.0.0.1"])
    )
    | st.sampled_from(["anonymous", "unknown", "Restricted", "+86 138-0013-8000"])
    | st.text(max_size=200)  # anything a PBX may send: kept sanitised, never refused
)
starts = st.builds(
    CallStarted,
    numbers,
    callers,
    st.floats(0, 4e9, allow_nan=False, allow_infinity=False) | st.integers(0, 2**32 - 1),
    names,
)
outbound_starts = st.builds(
    OutboundStarted, numbers, numbers, numbers, st.integers(0, 2**32 - 1).map(float), names
)
times = st.none() | st.floats(0, 4e9, allow_nan=False, allow_infinity=False)
digits = st.builds(Digits, st.text(alphabet="0123456789*#", max_size=A.MAX_DIGITS), times)
dial_results = st.builds(
    DialResult,
    st.just("answered"),
    numbers,
    st.integers(0, A.SECONDS_MAX),
    st.none() | names,
    times,
) | st.builds(DialResult, st.sampled_from(["busy", "no_answer", "failed"]), at=times)
surveys = st.builds(SurveyResult, st.none() | st.integers(1, 4), times)
vm_results = st.builds(VoicemailResult, names, st.integers(0, 600), times) | st.just(
    VoicemailResult(None, 0)
)
events = st.one_of(
    starts,
    outbound_starts,
    digits,
    st.builds(Answered, numbers, times),
    st.builds(KeepAlive, times),
    dial_results,
    st.builds(CallerHungUp, times),
    surveys,
    vm_results,
    st.builds(ConferenceResult, st.booleans(), times),
)
messages = actions | events

EXAMPLES: list[Any] = [
    Play("welcome.wav"),
    Collect("main_menu", 1, 5),
    Collect(None, 6, 10, "#"),
    Dial(("13800138100", "01065528888"), simultaneous=True, ring_timeout=30, record=True),
    Dial(("13800138100",), announce=805),
    Dial(("13800138100",), announce="zhang_id"),
    Dial(("13800138100", "13800138101"), simultaneous=True, announce=("zhang_id", 805)),
    Voicemail("sales_box", "vm_offer", 120),
    Conference("board-1", 3),
    Survey(),
    Hangup("blacklisted"),
    DropLeg("13800138101"),
    CallStarted("4008001234", "+8613800138000", 1_767_225_600.5, "1767225600.42"),
    CallStarted("4008001234", '"Zhang San" <13800138000>', 1.0, "c2"),
    CallStarted("4008001234", "anonymous", 1.0, "c3"),
    Answered("13800138100"),
    Answered("13800138100", 1_767_225_610.0),
    KeepAlive(),
    KeepAlive(1_767_225_620.0),
    CallStarted("4008001234", "", 0.0, "a1b2c3d4-0000-4000-8000-000000000000"),
    Digits(""),
    Digits("801#"),
    DialResult("answered", "13800138100", 95),
    DialResult("answered", "13800138100", 95, "rec-c1", 1_767_225_700.0),
    OutboundStarted("4008001234", "13800138100", "13900139000", 1_767_225_600.0, "o1"),
    DialResult("no_answer"),
    CallerHungUp(),
    CallerHungUp(1_767_225_800.0),
    SurveyResult(1),
    SurveyResult(None),
    VoicemailResult("vm-4008001234-0001.wav", 17),
    ConferenceResult(True),
]


# --- the API -------------------------------------------------------------------------------------


def test_exported_from_the_package():
    for name in (
        "ActionError",
        "Play",
        "Collect",
        "Dial",
        "Voicemail",
        "Conference",
        "Survey",
        "Hangup",
        "CallStarted",
        "Digits",
        "DialResult",
        "CallerHungUp",
        "SurveyResult",
        "VoicemailResult",
        "ConferenceResult",
        "OutboundStarted",
    ):
        assert name in routecore.__all__
        assert getattr(routecore, name) is getattr(A, name)
    assert issubclass(ActionError, RoutecoreError) and issubclass(ActionError, ValueError)
    assert set(W.ACTION_TYPES.values()) | set(W.EVENT_TYPES.values()) == {type(x) for x in EXAMPLES}


def test_values_are_frozen_slotted_and_hashable():
    d = Dial(["13800138100", "13800138101"])  # any sequence, kept as a tuple
    assert d.targets == ("13800138100", "13800138101")
    with pytest.raises(AttributeError):
        d.record = True  # type: ignore[misc]
    assert not hasattr(d, "__dict__")
    assert len({*EXAMPLES, *EXAMPLES}) == len(EXAMPLES)
    assert CallStarted("4008001234", "", 5, "x").at == 5.0  # int seconds become a float


def test_dict_shape():
    assert W.to_dict(Play("welcome")) == {"type": "play", "prompt": "welcome"}
    assert W.to_dict(Survey()) == {"type": "survey"}
    assert W.to_dict(Dial(("13800138100",), announce=805)) == {
        "type": "dial",
        "targets": ["13800138100"],
        "simultaneous": False,
        "ring_timeout": 20,
        "record": False,
        "announce": 805,
    }
    assert W.to_dict(CallStarted("4008001234", "13800138000", 1.5, "c1")) == {
        "type": "call_started",
        "did": "4008001234",
        "caller": "13800138000",
        "at": 1.5,
        "call_id": "c1",
    }
    assert json.loads(W.to_json(DialResult("busy"))) == {
        "type": "dial_result",
        "outcome": "busy",
        "answered_by": None,
        "talk_seconds": 0,
        "recording": None,
        "at": None,
        "transfer": None,
    }
    # fields with a default may be left out by the sender (older adapters send no "at")
    assert W.from_json('{"type":"dial_result","outcome":"busy"}') == DialResult("busy")
    assert W.from_dict({"type": "caller_hung_up"}) == CallerHungUp()
    tags = {W.to_dict(x)["type"] for x in EXAMPLES}
    assert tags == set(W.ACTION_TYPES) | set(W.EVENT_TYPES)


@pytest.mark.parametrize("x", EXAMPLES, ids=lambda x: type(x).__name__)
def test_examples_round_trip(x):
    assert W.from_dict(W.to_dict(x)) == x
    assert W.from_json(W.to_json(x)) == x
    assert W.from_json(W.to_json(x).encode()) == x
    assert W.from_msgpack(W.to_msgpack(x)) == x


@FAST
@given(messages)
def test_round_trip_every_type(x):
    assert W.from_dict(W.to_dict(x)) == x
    assert W.from_json(W.to_json(x)) == x
    assert W.from_msgpack(W.to_msgpack(x)) == x
    assert type(W.from_msgpack(W.to_msgpack(x))) is type(x)


@FAST
@given(st.lists(messages, max_size=10))
def test_stream_round_trip(items):
    data = W.pack_stream(items)
    assert W.unpack_stream(data) == items
    assert W.unpack_stream(bytearray(data)) == items
    assert W.unpack_stream(memoryview(data)) == items


def test_stream_refuses_truncated_and_garbage():
    data = W.pack_stream(EXAMPLES)
    assert len(W.unpack_stream(data)) == len(EXAMPLES)
    for cut in (1, 2, len(data) // 2, len(data) - 1):
        if cut not in _item_boundaries(EXAMPLES):
            # (a cut header may claim more than the bytes left can hold: refused as unreadable)
            with pytest.raises(ActionError, match="truncated|not readable"):
                W.unpack_stream(data[:cut])
    with pytest.raises(ActionError, match="truncated"):
        W.unpack_stream(data + b"\x81")
    with pytest.raises(ActionError, match=r"item 1: unknown type 'nope'"):
        W.unpack_stream(W.pack_stream([Survey()]) + msgpack.packb({"type": "nope"}))
    with pytest.raises(ActionError, match="not readable"):
        W.unpack_stream(b"\xc1")
    with pytest.raises(ActionError, match="expected bytes"):
        W.unpack_stream("text")  # type: ignore[arg-type]


def _item_boundaries(items: list[Any]) -> set[int]:
    out, pos = {0}, 0
    for x in items:
        pos += len(W.to_msgpack(x))
        out.add(pos)
    return out


# --- validation ----------------------------------------------------------------------------------

INJECTIONS = ["13800138000&1001", "a,b", "x|y", "a\nb", "a b", "a;b", "a/b", "../x", "a\x00b"]


@pytest.mark.parametrize("bad", INJECTIONS)
def test_injection_refused_in_names(bad):
    for make in (
        lambda: Play(bad),
        lambda: Collect(bad, 1, 5),
        lambda: Voicemail(bad),
        lambda: Voicemail("box", bad),
        lambda: Conference(bad),
        lambda: Dial(("13800138000",), announce=bad),
        lambda: CallStarted("4008001234", "", 0, bad),
        lambda: VoicemailResult(bad, 1),
    ):
        with pytest.raises(ActionError, match="not a safe name"):
            make()


@pytest.mark.parametrize(
    "bad", [*INJECTIONS, "１３８００１３８０００", "+8613800138000", "12", "1" * 21]
)
def test_injection_refused_in_numbers(bad):
    for make in (
        lambda: Dial((bad,)),
        lambda: Dial(("13800138000", bad)),
        lambda: DialResult("answered", bad, 1),
        lambda: CallStarted(bad, "", 0, "c1"),
    ):
        with pytest.raises(ActionError, match="number"):
            make()


@pytest.mark.parametrize("at", [2.0**32, 2**32, 1e300, 253402300800.0, -1.0])
def test_times_beyond_2106_are_refused_at_decode(at):
    # one valid range for every layer: the state stamps seconds in 32 bits, and a record, a
    # time plan or an SMS of year 10,000 cannot be computed
    with pytest.raises(ActionError, match="not a time"):
        W.from_json(W.to_json(CallStarted("4008001234", "", 0.0, "c")).replace("0.0", repr(at)))
    with pytest.raises(ActionError, match="not a time"):
        Digits("1", at)
    assert CallStarted("4008001234", "", float(2**32 - 1), "c").at == 2**32 - 1


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        ("+86 138-0013-8000", "+86 138-0013-8000"),
        ('"Zhang San" <13800138000>', '"Zhang San" <13800138000>'),
        ("anonymous", "anonymous"),
        ("Restricted", "Restricted"),
        ("13800138000&1001", "13800138000&1001"),
        ("1\n2", "12"),
        ("  13800138000\r\n", "13800138000"),
        ("x\x00y\u200bz\ud800", "xyz"),
        ("1" * 300, "1" * A.CALLER_MAX),
    ],
)
def test_raw_caller_ids_are_kept_sanitised_never_refused(raw, kept):
    # B6: whatever the PBX sends as caller ID; control and format characters and lone
    # surrogates dropped, cut to CALLER_MAX, and the result still goes on every wire.
    ev = CallStarted("4008001234", raw, 0, "c1")
    assert ev.caller == kept
    assert W.from_json(W.to_json(ev)) == ev
    assert W.from_msgpack(W.to_msgpack(ev)) == ev


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Play(""), r"Play\.prompt: a name has 1-128 characters, got 0"),
        (lambda: Play("a" * 129), r"Play\.prompt: a name has 1-128 characters"),
        (lambda: Play("-rf"), r"Play\.prompt: '-rf' is not a safe name"),
        (lambda: Play(".hidden"), "not a safe name"),
        (lambda: Play("a..b"), "no '..'"),
        (lambda: Play("欢迎 词"), "not a safe name"),  # Chinese names are fine, spaces are not
        (lambda: Play(None), r"Play\.prompt: expected a name \(str\), got None"),
        (lambda: Play(7), r"expected a name \(str\), got int"),
        (lambda: Collect("m", 0, 5), r"Collect\.max_digits: 0 is out of range 1-32"),
        (lambda: Collect("m", 33, 5), r"Collect\.max_digits: 33 is out of range"),
        (lambda: Collect("m", 1, 0), r"Collect\.timeout: 0 is out of range 1-60"),
        (lambda: Collect("m", 1, 61), r"Collect\.timeout: 61 is out of range 1-60"),
        (lambda: Collect("m", 1, 5.0), r"Collect\.timeout: expected an int, got float"),
        (lambda: Collect("m", True, 5), r"Collect\.max_digits: expected an int, got bool"),
        (lambda: Collect("m", 1, 5, "*"), r"Collect\.terminator: must be '#' or None, got '\*'"),
        (lambda: Dial(()), r"Dial\.targets: 1-100 numbers, got 0"),
        (lambda: Dial(tuple(f"138{i:08}" for i in range(101))), "1-100 numbers, got 101"),
        (lambda: Dial("13800138000"), r"Dial\.targets: expected a list of numbers, got str"),
        (lambda: Dial(("13800138000", "13800138000")), "listed twice"),
        (lambda: Dial((13800138000,)), r"Dial\.targets\[0\]: expected a number .*got int"),
        (lambda: Dial(("13800138000",), ring_timeout=4), r"Dial\.ring_timeout: 4 is out of"),
        (lambda: Dial(("13800138000",), ring_timeout=301), "out of range 5-300"),
        (lambda: Dial(("13800138000",), simultaneous=1), r"Dial\.simultaneous: expected a bool"),
        (lambda: Dial(("13800138000",), record="yes"), r"Dial\.record: expected a bool, got str"),
        (lambda: Dial(("13800138000",), announce=800), r"Dial\.announce: 800 is out of range"),
        (lambda: Dial(("13800138000",), announce=900), "out of range 801-899"),
        (lambda: Dial(("13800138000",), announce=True), r"Dial\.announce: expected an agent id"),
        (lambda: Dial(("13800138000", "139"), announce=(805,)), "one entry per target .2., got 1"),
        (lambda: Dial(("13800138000",), announce=[900]), r"Dial\.announce\[0\]: 900 is out of"),
        (lambda: Voicemail("b", max_seconds=9), r"Voicemail\.max_seconds: 9 is out of range"),
        (lambda: Voicemail("b", max_seconds=601), "out of range 10-600"),
        (lambda: Conference("r", 1), r"Conference\.max_parties: 1 is out of range 2-50"),
        (lambda: Conference("r", 51), r"Conference\.max_parties: 51"),
        (lambda: Hangup("bye"), r"Hangup\.cause: 'bye' is not one of normal, blacklisted"),
        (lambda: Hangup(None), r"Hangup\.cause: expected one of .*got None"),
        (lambda: CallStarted("4008001234", "", -1.0, "c"), r"CallStarted\.at: -1\.0 is not"),
        (lambda: CallStarted("4008001234", "", math.nan, "c"), r"CallStarted\.at: nan is not"),
        (lambda: CallStarted("4008001234", "", math.inf, "c"), "not a time"),
        (lambda: CallStarted("4008001234", "", "1", "c"), r"at: expected unix seconds \(float\)"),
        (lambda: CallStarted("4008001234", "", False, "c"), "got bool"),
        (lambda: CallStarted("4008001234", "", 10**400, "c"), "an int of 1329 bits is not a time"),
        (lambda: CallStarted("4008001234", "", -1, "c"), r"CallStarted\.at: -1 is not a time"),
        (lambda: SurveyResult(10**5000), r"rating: an int of 16610 bits is out of range 1-4"),
        (lambda: Hangup("x" * 10**6), r"Hangup\.cause: 'xxxx.*\.\.\. \(1000000 characters\) is"),
        (
            lambda: Play("a b" * 20),
            r"Play\.prompt: .a ba b.*\.\.\. \(60 characters\) is not a safe",
        ),
        (lambda: CallStarted("4008001234", None, 0, "c"), r"caller: expected a str, got None"),
        (lambda: Digits("12a"), r"Digits\.digits: '12a' has keys other than 0-9 \* #"),
        (lambda: Digits("1\n"), "keys other than"),
        (lambda: Digits("１"), "keys other than"),
        (lambda: Digits("1" * 33), r"Digits\.digits: at most 32 keys, got 33"),
        (lambda: Digits(None), r"Digits\.digits: expected a str, got None"),
        (lambda: DialResult("ringing"), r"DialResult\.outcome: 'ringing' is not one of"),
        (lambda: DialResult("answered"), "an answered call needs the number"),
        (lambda: DialResult("busy", "13800138000"), "must be None when the outcome is 'busy'"),
        (lambda: DialResult("failed", None, 3), "must be 0 when the outcome is 'failed'"),
        (lambda: DialResult("busy", recording="r1"), r"recording: must be None when the outcome"),
        (lambda: DialResult("busy", at=-5), r"DialResult\.at: -5 is not a time"),
        (lambda: Digits("1", math.nan), r"Digits\.at: nan is not a time"),
        (lambda: CallerHungUp("now"), r"CallerHungUp\.at: expected unix seconds"),
        (lambda: OutboundStarted("4008001234", "x", "139", 0, "o"), r"OutboundStarted\.agent"),
        (lambda: DialResult("answered", "13800138000", -1), r"talk_seconds: -1 is out of"),
        (lambda: SurveyResult(0), r"SurveyResult\.rating: 0 is out of range 1-4"),
        (lambda: SurveyResult(5), "out of range 1-4"),
        (lambda: SurveyResult("1"), "expected an int, got str"),
        (lambda: VoicemailResult(None, 3), "must be 0 when there is no reference"),
        (lambda: VoicemailResult("r", -1), r"VoicemailResult\.seconds: -1 is out of range"),
        (lambda: ConferenceResult(1), r"ConferenceResult\.joined: expected a bool, got int"),
    ],
)
def test_validation_messages(make, message):
    with pytest.raises(ActionError, match=message):
        make()


# --- decoding ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("d", "message"),
    [
        ([], "expected a dict with a 'type', got list"),
        ({}, "'type' must be a str naming an Action or Event, got None"),
        ({"type": 1}, "'type' must be a str"),
        ({"type": "Play", "prompt": "x"}, "unknown type 'Play'"),
        ({"type": "play"}, "play: missing field.s. prompt"),
        ({"type": "play", "prompt": "x", "volume": 3}, "play: unknown field.s. 'volume'"),
        ({"type": "survey", "x": None}, "survey: unknown field"),
        ({"type": "play", "prompt": ["x"]}, r"Play\.prompt: expected a name \(str\), got list"),
        (
            {"type": "hangup", "cause": {"a": 1}},
            r"Hangup\.cause: expected one of .*got dict",
        ),
        (
            {"type": "dial", "targets": "1380", "simultaneous": False, "ring_timeout": 20}
            | {"record": False, "announce": None},
            "expected a list of numbers, got str",
        ),
        (
            {"type": "dial", "targets": [["1"]], "simultaneous": False, "ring_timeout": 20}
            | {"record": False, "announce": None},
            r"targets\[0\]: expected a number .*got list",
        ),
        ({"type": "digits", "digits": 12}, "expected a str, got int"),
    ],
)
def test_from_dict_refuses(d, message):
    with pytest.raises(ActionError, match=message):
        W.from_dict(d)


@pytest.mark.parametrize(
    "huge",
    [10**5000, -(10**400), 2**64, 2**53 + 1, 1e308 * 10],
    ids=["10^5000", "-10^400", "2^64", "2^53+1", "inf"],
)
def test_from_dict_huge_numbers_refused(huge):
    """Ints past float range or past Python's int-to-text limit still give an ActionError."""
    for x in EXAMPLES:
        d = W.to_dict(x)
        for key in d:
            if key != "type":
                with pytest.raises(ActionError):
                    W.from_dict({**d, key: huge})


def test_to_dict_refuses_other_objects():
    with pytest.raises(ActionError, match="not an Action or Event: dict"):
        W.to_dict({"type": "play"})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    ["", "{", "nul", "[1]", '"play"', '{"type": "play", "prompt": NaN}', "9" * 5000, "[" * 100_000],
)
def test_from_json_refuses(text):
    with pytest.raises(ActionError):
        W.from_json(text)


def test_from_json_wrong_input_types():
    with pytest.raises(ActionError, match="JSON: not readable"):
        W.from_json(b"\xff\xfe\x00")
    with pytest.raises(ActionError, match="expected str or bytes, got int"):
        W.from_json(5)  # type: ignore[arg-type]
    with pytest.raises(ActionError, match="JSON: Infinity is not allowed"):
        W.from_json('{"type":"call_started","did":"4008001234","caller":"","at":Infinity}')


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xc1",
        b"\x93",
        b"\x81\xc0\x01",  # a nil map key
        b"\x81\x90\x01",  # an array as map key
        b"\xd6\xff\x00\x00\x00\x00",  # a timestamp
        b"\xc4\x01a",
        b"\x91" * 100_000,  # deep nesting
        msgpack.packb({"type": "play", "prompt": "x"}) + b"\x00",  # trailing data
        msgpack.packb({"type": "play", "prompt": b"x"}),  # bytes, not a str
        msgpack.packb({"type": "play", "prompt": "x"})[:-1],
    ],
)
def test_from_msgpack_refuses(data):
    with pytest.raises(ActionError):
        W.from_msgpack(data)
    if data:  # an empty stream is a stream of no items
        with pytest.raises(ActionError):
            W.unpack_stream(data)
    else:
        assert W.unpack_stream(data) == []


def test_from_msgpack_wrong_input_type():
    with pytest.raises(ActionError, match="msgpack: expected bytes, got str"):
        W.from_msgpack("x")  # type: ignore[arg-type]


# --- hostile input: only ActionError, ever -------------------------------------------------------


def _values_of(ints: st.SearchStrategy[int]) -> st.SearchStrategy[Any]:
    scalars = (
        st.none()
        | st.booleans()
        | ints
        | st.floats()
        | st.text(max_size=12)
        | st.binary(max_size=8)
    )
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
        ),
        max_leaves=12,
    )


_values = _values_of(st.integers())
_msgpack_values = _values_of(st.integers(-(2**63), 2**64 - 1))  # what msgpack can carry

_tags = st.sampled_from([*W.ACTION_TYPES, *W.EVENT_TYPES, "x", ""])


@st.composite
def _near_valid_dicts(draw: st.DrawFn, values: st.SearchStrategy[Any] = _values) -> dict[str, Any]:
    """A valid message's dict with one field replaced, removed or added."""
    d = W.to_dict(draw(messages))
    how = draw(st.sampled_from(["replace", "remove", "add", "tag"]))
    keys = sorted(d)
    if how == "replace":
        d[draw(st.sampled_from(keys))] = draw(values)
    elif how == "remove":
        del d[draw(st.sampled_from(keys))]
    elif how == "add":
        d[draw(st.text(max_size=6))] = draw(values)
    else:
        d["type"] = draw(_tags)
    return d


def _only_action_error(fn: Any, arg: Any) -> None:
    try:
        fn(arg)
    except ActionError:
        pass


@FAST
@given(_near_valid_dicts() | st.dictionaries(st.text(max_size=8), _values, max_size=6) | _values)
def test_from_dict_raises_only_action_error(d):
    _only_action_error(W.from_dict, d)


@FAST
@given(
    _near_valid_dicts().map(lambda d: json.dumps(d, default=repr))
    | st.text(max_size=60)
    | st.binary(max_size=60)
)
def test_from_json_raises_only_action_error(text):
    _only_action_error(W.from_json, text)


def _pack(d: Any) -> bytes:
    return msgpack.packb(d, use_bin_type=True)


@FAST
@given(
    _near_valid_dicts(_msgpack_values).map(_pack)
    | st.dictionaries(st.text(max_size=8), _msgpack_values, max_size=6).map(_pack)
    | st.binary(max_size=80)
    | st.lists(messages, max_size=3)
    .map(W.pack_stream)
    .flatmap(
        lambda b: st.tuples(st.just(b), st.integers(0, len(b)), st.binary(max_size=4)).map(
            lambda t: t[0][: t[1]] + t[2]  # a stream cut anywhere, then junk
        )
    )
)
def test_msgpack_decoders_raise_only_action_error(data):
    _only_action_error(W.from_msgpack, data)
    _only_action_error(W.unpack_stream, data)


def test_chinese_names_of_flows_are_accepted():
    assert Voicemail("销售信箱").box == "销售信箱"
    assert W.from_json(W.to_json(Play("欢迎词"))) == Play("欢迎词")
