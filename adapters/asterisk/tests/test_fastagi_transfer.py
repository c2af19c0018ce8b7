"""A seat's transfer (V5) through the FastAGI server, over real sockets with the fake Asterisk:
the transfer read with the Dial's result, cleared, the new seat rung, the record naming both."""

from __future__ import annotations

from fakeast import Ring, Scenario, environment
from test_fastagi_flows import ANSWERED, call, dial_line, one_record, paths

from routecore.adapter.runtime import Runtime


def test_a_seat_transfer_read_with_the_dial_result_rings_the_new_seat(host: Runtime) -> None:
    """The portal set ROUTECORE_TRANSFER on the caller's channel and hung the agent's leg up:
    the server reads it with the Dial's result (no extra round trip), clears it and the engine
    rings the new seat; the record names both agents and bills both legs."""
    seat = "13900001111"
    rings = [Ring(talk=30, transfer=seat), Ring(talk=20, answerer=seat)]
    fake, port = call(host, Scenario(digits=["1", "1"], rings=rings), environment())
    p, _ = paths(host)
    first = fake.dials()[0].split("/")[1].split("@")[0]
    assert fake.commands()[5:] == [
        dial_line([first], 20, "rcpbx-1796174071.0", port),
        *ANSWERED,
        'SET VARIABLE ROUTECORE_TRANSFER ""',
        f'STREAM FILE {p}/sys_transfer ""',
        dial_line([seat], 30, "rcpbx-1796174071.0", port),
        *ANSWERED,  # cleared: the second Dial's result carries no transfer
        "EXEC Hangup 16",
    ]
    rec = one_record(host, "rcpbx-1796174071.0")
    assert rec["answered_by"] == first and rec["talked_with"] == [first, seat]
    assert rec["transfers"] == [seat] and rec["talk_seconds"] == 50


def test_a_transfer_to_something_not_a_number_is_ignored(host: Runtime) -> None:
    rings = [Ring(talk=30, transfer="801;Hangup")]
    fake, _ = call(host, Scenario(digits=["1", "1"], rings=rings), environment())
    assert fake.commands()[-2:] == ['SET VARIABLE ROUTECORE_TRANSFER ""', "EXEC Hangup 16"]
    rec = one_record(host, "rcpbx-1796174071.0")
    assert rec["transfers"] == [] and rec["outcome"] == "answered"
