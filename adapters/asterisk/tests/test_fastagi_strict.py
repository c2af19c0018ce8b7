"""What a hostile or broken peer cannot do to the FastAGI server: inject a command through a
caller ID or a reply, wedge a call with a malformed or stalled conversation, hold a claim, or
reach the server from outside loopback and ``--allow``."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from fakeast import (
    FakeAsterisk,
    Ring,
    Scenario,
    Served,
    busy,
    check_call,
    environment,
    errors_logged,
    records,
    run,
    serving,
)

from routecore.adapter.config import AdapterConfig
from routecore.adapter.dialstrings import DialTemplates
from routecore.adapter.runtime import Runtime
from routecore.adapter.server import Server, bind
from routecore_asterisk.fastagi import make_handler

MARKERS = ("evil", "/666", ",666", "|666", "666@", "SHELL", "\x1b", "\r")  # not "666": a port


@pytest.fixture
def quick(host: Runtime) -> Iterator[Runtime]:
    """A Runtime on ``host``'s files whose PBX must answer a short command within 0.3 s."""
    runtime = Runtime(replace(host.config, reply_timeout=0.3))
    yield runtime
    runtime.close()
    runtime.state.close()


# ---------------------------------------------------------------- caller IDs


HOSTILE = [
    b"13800138000\nEXEC Dial Local/666@evil",  # a line end: the environment is malformed
    "13800138000&Local/666@evil",
    "13800138000,666,gM(evil)",
    "13800138000|666",
    '"evil 666" <13800138000>',
    "13800138000;evil=666",
    "${SHELL}666",
    "{evil}666",
    "\x01\x02\x1b[31mevil\x7f666",
    "13800138000\revil 666",
    "13800138000 evil 666",
    "\u2028evil666\u00a0",
    "😀evil666",
    "../../etc/passwd666evil",
    "",
    "1" * 3000 + "evil666",
]


@pytest.mark.parametrize("caller", HOSTILE, ids=range(len(HOSTILE)))
@pytest.mark.parametrize(
    ("did", "digits"),
    [("4006001003", ["1", "1"]), ("4006001005", []), ("8006001007", ["1", "1"])],
)
def test_no_caller_id_reaches_a_command(
    host: Runtime, caller: str | bytes, did: str, digits: list[str]
) -> None:
    async def body() -> list[FakeAsterisk]:
        async with serving(host) as served:
            out = []
            for n in range(2):  # the second call of the same caller: call memory
                env = environment(caller=caller, callername=caller, dnid=did, uniqueid=f"inj-{n}")
                scenario = Scenario(digits=list(digits), rings=[Ring(), Ring()])
                out.append(await served.call(scenario, env))
            return out

    with errors_logged() as errors:
        fakes = run(body())
    assert errors.records == []
    for fake in fakes:
        check_call(fake, *MARKERS)
    assert busy(host) == {}
    if isinstance(caller, bytes):
        assert fakes[0].lines == [] and records(host) == []
    else:
        rows = records(host)
        assert len(rows) == 2 and all("\n" not in r["caller"] for r in rows)


def test_a_hostile_call_id_names_no_file_and_no_subroutine(host: Runtime) -> None:
    env = environment(dnid="8006001007", uniqueid="evil^666)${SHELL},b&x")

    async def body() -> FakeAsterisk:
        async with serving(host) as served:
            return await served.call(Scenario(digits=["1", "1"], rings=[Ring()]), env)

    fake = run(body())
    check_call(fake, *MARKERS)
    assert fake.answers and fake.answers[0].lines == []
    (rec,) = records(host)
    assert rec["call_id"].startswith("call-") and rec["recording"] == rec["call_id"] + ".wav"


@pytest.mark.parametrize(
    "env",
    [
        environment(
            script="outbound?did=4006001003",
            caller="801",
            extension="13912345678&Local/666@evil",
        ),
        environment(script="outbound?did=4006001003%26666", caller="801", extension="139"),
        environment(script="route?did=4006001003,666", uniqueid="q"),
        environment(dnid="4006001003&666", extension="evil"),
    ],
)
def test_hostile_numbers_are_refused(host: Runtime, env: bytes) -> None:
    async def body() -> FakeAsterisk:
        async with serving(host) as served:
            return await served.call(Scenario(), env)

    fake = run(body())
    check_call(fake, *MARKERS)
    assert fake.commands() == ["EXEC Hangup 41"]
    assert records(host) == []


def test_hostile_replies_reach_no_command(host: Runtime) -> None:
    class Hostile(FakeAsterisk):
        async def _reply(self, line: bytes, *, answering: bool = True) -> bytes:
            if line.startswith(b"GET DATA "):
                return b"200 result=1&Local/666@evil\n"
            if line == b"GET VARIABLE DIALEDPEERNUMBER\n":
                return b"200 result=1 (Local/666@evil&x)\n"
            if line in (b"GET VARIABLE ANSWEREDTIME_MS\n", b"GET VARIABLE GOSUB_RETVAL\n"):
                return b"200 result=1 (${SHELL})\n"
            return await super()._reply(line, answering=answering)

    async def body() -> FakeAsterisk:
        async with serving(host) as served:
            fake = await Hostile(Scenario(rings=[Ring()] * 9), environment()).call(served.port)
            await served.settle()
            return fake

    fake = run(body())
    check_call(fake, *MARKERS)
    (rec,) = records(host)
    assert rec["answered_by"] is None or rec["answered_by"].isdigit()
    assert busy(host) == {}


# ---------------------------------------------------------------- malformed conversations


GOOD = environment(uniqueid="good")
ENV_BODY = GOOD[:-1]  # without the closing empty line

MALFORMED = {
    "no blank line, then EOF": (ENV_BODY, True),
    "no blank line, then silence": (ENV_BODY, False),
    "truncated mid-line": (GOOD[:200], True),
    "line too long": (b"agi_network: yes\nagi_callerid: " + b"1" * 5000 + b"\n\n", False),
    "too many headers": (b"".join(b"agi_x%d: 1\n" % i for i in range(200)) + b"\n", False),
    "not AGI": (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", False),
    "empty environment": (b"\n", False),
    "repeated header": (b"agi_network: yes\nagi_network: yes\n\n", False),
    "bad query": (
        environment(script="route?" + "&".join(f"a{i}=1" for i in range(100))),
        False,
    ),
    "nothing at all, EOF": (b"", True),
}


def test_malformed_environments_are_closed_and_the_server_goes_on(quick: Runtime) -> None:
    async def body() -> dict[str, FakeAsterisk]:
        out: dict[str, FakeAsterisk] = {}
        async with serving(quick) as served:
            for name, (data, eof) in MALFORMED.items():
                scenario = Scenario(cut_at=len(data) if eof else None)
                out[name] = await FakeAsterisk(scenario, data, wait=3).call(served.port)
                await served.settle()
            out["good"] = await served.call(Scenario(digits=["2"], rings=[Ring()]), GOOD)
        return out

    with errors_logged() as errors:
        fakes = run(body())
    assert errors.records == []
    good = fakes.pop("good")
    for name, fake in fakes.items():
        assert fake.closed_by_server and not fake.stalled_server, name
        assert fake.lines == [], name
    check_call(good)
    assert [r["call_id"] for r in records(quick)] == ["good"]
    assert busy(quick) == {}


def test_a_stalled_peer_is_dropped_and_another_call_goes_on(quick: Runtime) -> None:
    """The stalled call leaves after 0.3 s with its claim released; a call in progress on
    the same server meanwhile completes normally."""

    async def body() -> tuple[FakeAsterisk, FakeAsterisk, FakeAsterisk, Served]:
        async with serving(quick) as served:
            menu = FakeAsterisk(Scenario(digits=["1"], stall_at=3), environment(uniqueid="s1"))
            after_answer = FakeAsterisk(  # stalls with the agent's claim held
                Scenario(digits=["2"], rings=[Ring()], stall_at=5), environment(uniqueid="s2")
            )
            normal = FakeAsterisk(
                Scenario(digits=["1", "1"], rings=[Ring(delay=0.8)]), environment(uniqueid="ok")
            )
            await asyncio.gather(
                menu.call(served.port), after_answer.call(served.port), normal.call(served.port)
            )
            await served.settle()
            return menu, after_answer, normal, served

    with errors_logged() as errors:
        menu, after_answer, normal, _ = run(body())
    assert errors.records == []
    for fake in (menu, after_answer):
        assert fake.closed_by_server and not fake.stalled_server
    assert len(menu.lines) == 4 and len(after_answer.lines) == 6
    assert after_answer.commands()[-1] == (
        "GET FULL VARIABLE ${DIALSTATUS}|${DIALEDPEERNUMBER}|${ROUTECORE_TRANSFER}"
    )
    check_call(normal)
    assert normal.commands()[-1] == "EXEC Hangup 16"
    assert busy(quick) == {}
    rows = {r["call_id"]: r for r in records(quick)}
    assert sorted(rows) == ["ok", "s1", "s2"]
    assert rows["ok"]["outcome"] == "answered"
    assert rows["s2"]["answer"] is not None  # the answer moment was recorded before the stall


def test_a_stalled_answer_subroutine_does_not_hold_the_call(quick: Runtime) -> None:
    class Mute(FakeAsterisk):
        async def answer(self, port: int, call: str, number: str, strings: list[str]) -> Any:
            reader, writer = await asyncio.open_connection(self.host, port)
            writer.write(environment(script=f"answered?call={call}", uniqueid="u"))
            data = await asyncio.wait_for(reader.read(), 5)  # never answered: server closes
            writer.close()
            return data

    async def body() -> FakeAsterisk:
        async with serving(quick) as served:
            fake = Mute(Scenario(digits=["2"], rings=[Ring()]), environment(uniqueid="m"))
            await fake.call(served.port)
            await served.settle()
            return fake

    fake = run(body())
    assert fake.answers == [b"GET VARIABLE DIALEDPEERNUMBER\n"]
    assert fake.closed_by_server and fake.commands()[-1] == "EXEC Hangup 16"
    assert busy(quick) == {}
    assert records(quick)[0]["outcome"] == "answered"


def test_multi_line_520_and_510_replies_end_the_call(host: Runtime) -> None:
    class Refusing(FakeAsterisk):
        async def _reply(self, line: bytes, *, answering: bool = True) -> bytes:
            if line.startswith(b"GET DATA "):
                return (
                    b"520-Invalid command syntax.  Proper usage follows:\n"
                    b" Usage: GET DATA <file to be streamed> [timeout] [maxdigits]\n"
                    b"520 End of proper usage.\n"
                )
            return await super()._reply(line, answering=answering)

    async def body() -> FakeAsterisk:
        async with serving(host) as served:
            fake = await Refusing(Scenario(), environment(uniqueid="r")).call(served.port)
            await served.settle()
            return fake

    with errors_logged() as errors:
        fake = run(body())
    assert errors.records == []
    assert fake.closed_by_server and fake.commands()[-1].startswith("GET DATA ")
    assert len(records(host, "r")) == 1 and busy(host) == {}


# ---------------------------------------------------------------- peers


def _dial() -> DialTemplates:
    return DialTemplates({"default": "Local/{number}@destinations"})


@pytest.mark.parametrize(
    ("peer", "allow", "ok"),
    [
        ("127.0.0.1", (), True),
        ("127.8.9.10", (), True),
        ("::1", (), True),
        ("::ffff:127.0.0.1", (), True),  # an IPv4 peer on a dual-stack socket
        ("192.0.2.7", (), False),
        ("192.0.2.7", ("192.0.2.0/24",), True),
        ("::ffff:192.0.2.7", ("192.0.2.0/24",), True),
        ("::ffff:192.0.2.7", (), False),
        ("198.51.100.1", ("192.0.2.0/24",), False),
        ("2001:db8::5", ("2001:db8::/64",), True),
        ("2001:db8:1::5", ("2001:db8::/64",), False),
        ("fe80::1%eth0", (), False),
        ("fe80::1%eth0", ("fe80::/10",), True),
        ("0.0.0.0", (), False),
        ("", (), False),
        ("localhost", (), False),
        ("not an address", ("0.0.0.0/0",), False),
    ],
)
def test_allowed_peers(peer: str, allow: tuple[str, ...], ok: bool) -> None:
    config = AdapterConfig(dial=_dial(), allow=tuple(ipaddress.ip_network(a) for a in allow))
    assert config.allowed(peer) is ok


def _outside_address() -> str | None:
    """An address of this host that is not loopback (None when it has none)."""
    for probe in ("198.51.100.1", "10.255.255.254", "192.0.2.1"):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.connect((probe, 9))  # no packet is sent: only the route is looked up
            except OSError:
                continue
            address = s.getsockname()[0]
        if not ipaddress.ip_address(address).is_loopback:
            return str(address)
    return None


def _serve_at(host: Runtime, listen: str, allow: tuple[str, ...], connect: str) -> Any:
    config = replace(host.config, host=listen, allow=tuple(ipaddress.ip_network(a) for a in allow))
    runtime = Runtime(config)

    async def body() -> tuple[FakeAsterisk, int]:
        server = Server(config, None)  # type: ignore[arg-type]
        await make_handler(runtime, server)
        sock = bind(listen, 0)
        await server.listen(sock)
        try:
            fake = FakeAsterisk(Scenario(digits=["2"], rings=[Ring()]), GOOD, host=connect)
            await fake.call(sock.getsockname()[1])
            return fake, server.refused
        finally:
            await server.shutdown()

    try:
        return run(body())
    finally:
        runtime.close()


def test_a_peer_outside_loopback_and_allow_is_closed_before_a_byte(host: Runtime) -> None:
    address = _outside_address()
    if address is None:
        pytest.skip("this host has no address outside loopback")
    fake, refused = _serve_at(host, "0.0.0.0", (), address)
    assert refused == 1 and fake.lines == [] and fake.closed_by_server
    assert records(host) == []
    fake, refused = _serve_at(host, "0.0.0.0", (f"{address}/32",), address)
    assert refused == 0 and fake.commands()[-1] == "EXEC Hangup 16"


def test_loopback_reaches_a_dual_stack_server(host: Runtime) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        bind("::", 0).close()
    except OSError:
        pytest.skip("cannot listen on ::")
    fake, refused = _serve_at(host, "::", ("192.0.2.0/24",), "127.0.0.1")
    assert refused == 0, "127.0.0.1 arrives as ::ffff:127.0.0.1 on a dual-stack socket"
    assert fake.commands()[-1] == "EXEC Hangup 16"


@pytest.mark.parametrize(
    ("line", "reply"),
    [
        (b"GET DATA ", b"200 result=" + b"1" * 40 + b"\n"),  # more keys than a Collect takes
        (b"GET DATA ", b"200 result=" + b"7" * 64 + b"\n"),
        (b"RECORD FILE ", b"200 result=0 (timeout) endpos=99999999999999\n"),
    ],
)
def test_replies_out_of_range_are_protocol_errors_with_a_record(
    host: Runtime, line: bytes, reply: bytes
) -> None:
    """A value out of its range ends the call as a logged protocol error (never the
    unexpected-error path), with its record, and frees everything."""

    class Wild(FakeAsterisk):
        async def _reply(self, sent: bytes, *, answering: bool = True) -> bytes:
            if sent.startswith(line):
                return reply
            return await super()._reply(sent, answering=answering)

    scenario = Scenario(digits=["1", "1"], rings=[Ring("BUSY")] * 4, record_ms=5000)
    dnid = "4006001006" if line.startswith(b"RECORD") else "4006001003"

    async def body() -> None:
        async with serving(host) as served:
            await Wild(scenario, environment(dnid=dnid, uniqueid="wild")).call(served.port)
            await served.settle()

    with errors_logged() as errors:
        run(body())
    assert [r for r in errors.records if r.exc_info] == []  # no traceback: not a bug's path
    (rec,) = records(host, "wild")
    assert busy(host) == {}
    if line.startswith(b"RECORD"):
        assert rec["outcome"] == "voicemail" and rec["voicemail"] is not None  # capped, kept


@pytest.mark.parametrize("value", ["²", "9" * 15, "-5", "1e9", ""])
def test_an_unusable_answeredtime_keeps_the_call_answered(host: Runtime, value: str) -> None:
    """No answer moment (the answer subroutine never came) and an ANSWEREDTIME that is not a
    plain count within a week: the call stays answered, its talk bounded by the Dial's span."""

    class Odd(FakeAsterisk):
        async def _reply(self, sent: bytes, *, answering: bool = True) -> bytes:
            if sent == b"GET VARIABLE ANSWEREDTIME_MS\n":
                return f"200 result=1 ({value})\n".encode()
            return await super()._reply(sent, answering=answering)

    ring = Ring(talk=9, subroutine=False)

    async def body() -> None:
        async with serving(host) as served:
            scenario = Scenario(digits=["1", "1"], rings=[ring])
            await Odd(scenario, environment(uniqueid="odd")).call(served.port)
            await served.settle()

    with errors_logged() as errors:
        run(body())
    assert [r for r in errors.records if r.exc_info] == []
    (rec,) = records(host, "odd")
    assert rec["outcome"] == "answered" and rec["talk_seconds"] == 9  # the Dial's span
    assert busy(host) == {}


def test_a_malformed_line_after_a_whole_environment_is_a_protocol_error_with_a_record(
    host: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    """The environment arrives whole, and a malformed line with it in the same read: the call
    exists (it has a record, outcome ``error``) and ends as a logged protocol error; nothing
    is sent to a peer that broke the protocol."""
    block = environment(uniqueid="garbled") + b"this is not a reply\n"

    async def body() -> FakeAsterisk:
        async with serving(host) as served:
            fake = await FakeAsterisk(Scenario(), block, wait=3).call(served.port)
            await served.settle()
            return fake

    with caplog.at_level("WARNING", logger="routecore"):
        fake = run(body())
    assert fake.lines == []
    (rec,) = records(host, "garbled")
    assert rec["outcome"] == "error"
    assert any("garbled" in r.getMessage() and "AGI" in r.getMessage() for r in caplog.records)
    assert busy(host) == {}


@pytest.mark.parametrize(
    ("channel", "peer"),
    [
        ("Local/13800138002@destinations-0000002a;1", "13800138002@destinations"),
        ("Local/0755-8888@a-b-c-00000001;1", "0755-8888@a-b-c"),
        ("Local/13800138002@destinations-0000002a;2", None),  # the other half
        ("PJSIP/trunk-00000003", None),  # the name does not hold the number
        ("Local/-0001;1", None),
    ],
)
def test_the_answering_target_from_a_local_channel_name(channel: str, peer: str | None) -> None:
    from routecore_asterisk.fastagi import local_peer

    assert local_peer(channel) == peer


def test_an_answer_without_the_calls_secret_or_on_the_main_port_is_refused(
    host: Runtime,
) -> None:
    """A local process that knows a live call's id cannot mark it answered (freeing its other
    phones, or taking the answer): the answer port wants the call's secret, and the main port
    takes no answer at all."""
    import re as regex

    attempts: list[str] = []

    async def body() -> tuple[FakeAsterisk, Served]:
        async with serving(host) as served:
            ring = Ring("NOANSWER", delay=1.0)  # nobody answers: any answer is a spoof
            fake = FakeAsterisk(Scenario(digits=["1", "1"], rings=[ring]), environment())
            task = asyncio.create_task(fake.call(served.port))
            async with asyncio.timeout(5):
                while not any(line.startswith(b"EXEC Dial ") for line in fake.lines):
                    await asyncio.sleep(0.01)
            dial = next(line.decode() for line in fake.lines if line.startswith(b"EXEC Dial "))
            found = regex.search(r"rc-answered\^([^*^]+)\*([0-9a-f]+)\^(\d+)\^", dial)
            assert found is not None, dial
            call, secret, port = found.group(1), found.group(2), int(found.group(3))
            number = _answer_number(dial)
            for target_port, key in (
                (port, call),  # no secret
                (port, f"{call}*{'0' * 16}"),  # a wrong one
                (port, f"{call}*{secret[:-1]}"),  # nearly right
                (served.port, f"{call}*{secret}"),  # the right one, on the main port
            ):
                answer = await fake.answer(
                    target_port, key, number, [dial.split(" ")[2].split(",")[0]]
                )
                attempts.append(f"{target_port == port}:{answer.lines}")
            await task
            await served.settle()
            return fake, served

    _, served = run(body())
    assert served.handler.refused == 4
    assert attempts == ["True:[]", "True:[]", "True:[]", "False:[]"]  # not even a command
    (rec,) = records(host, "rcpbx-1796174071.0")
    assert rec["answered_by"] is None and rec["answer"] is None  # no spoofed answer moment
    assert busy(host) == {}


def _answer_number(dial: str) -> str:
    return dial.split("/", 1)[1].split("@", 1)[0]


def test_stalled_peers_never_crowd_out_a_call(host: Runtime) -> None:
    """At the connection cap, peers that connected and said nothing make room (the oldest
    first) for a call; when every connection is a call, a new one is refused and counted."""
    from dataclasses import replace as replaced

    runtime = Runtime(replaced(host.config, max_connections=4, reply_timeout=1.5))

    async def body() -> tuple[int, int]:
        async with serving(runtime) as served:
            assert served.server.limit == 4
            stalled = [await asyncio.open_connection("127.0.0.1", served.port) for _ in range(4)]
            await asyncio.sleep(1.1)  # silent for longer than a PBX ever is
            good = FakeAsterisk(Scenario(digits=["1", "1"], rings=[Ring()]), GOOD)
            check_call(await good.call(served.port))
            evicted = served.server.evicted
            # four calls whose PBX stops answering after the first command: all calls now
            busy_calls = [
                asyncio.create_task(
                    FakeAsterisk(
                        Scenario(stall_at=1), environment(uniqueid=f"full-{n}"), wait=3
                    ).call(served.port)
                )
                for n in range(4)
            ]
            async with asyncio.timeout(5):
                while len(served.handler.calls) < 4:
                    await asyncio.sleep(0.01)
            reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
            assert await asyncio.wait_for(reader.read(), 2) == b""  # refused at once
            writer.close()
            await asyncio.gather(*busy_calls)
            for _, w in stalled:
                w.close()
            await served.settle()
            return evicted, served.server.full

    try:
        evicted, full = run(body())
    finally:
        runtime.close()
    assert evicted >= 1 and full == 1
    assert [r["call_id"] for r in records(host) if r["call_id"] == "good"] == ["good"]
    assert len([r for r in records(host) if r["call_id"].startswith("full-")]) == 4
    assert busy(host) == {}


def test_the_open_files_limit_is_raised_to_the_hard_one() -> None:
    import resource
    import subprocess
    import sys

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= 256:
        pytest.skip("the hard limit is too low to lower the soft one under it")
    code = (
        "import resource; from routecore.adapter.server import raise_fd_limit;"
        "print(raise_fd_limit(), resource.getrlimit(resource.RLIMIT_NOFILE)[0])"
    )

    def low() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))

    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, preexec_fn=low, check=True
    ).stdout.split()
    expected = hard if hard != resource.RLIM_INFINITY else 1 << 20
    assert out == [str(expected), str(expected)]
