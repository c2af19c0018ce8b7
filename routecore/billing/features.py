"""The value-added features a number had in a month and their monthly fees (V1, V2, V3, V4, V6,
P1).

The brief prices them by the month: virtual PBX (V1) 100 yuan, bulk SMS (V2) 50, call memory
(V3) 50, conference (V4) 50, QR call (V6) 50; the mobile cloud seat (V5, 20 a seat) is the seat
fee of the statement (P4). A feature is billed for the **whole month** when the number had it
at any moment of that month — no pro rata: a feature switched on on the 30th is that month's,
one switched off on the 2nd is still that month's.

V1, V3 and V4 come from the flow: every version that was live at some moment of the month (the
version live when it began, and every version published or rolled back to during it): V1 when
it has an extension dialer, V3 when it or one of its groups remembers callers, V4 when it has a
conference room. V2 and V6 are the portal's (a bulk SMS subscription, a QR call page) and are
given by the caller.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["FEATURES", "FEATURE_FEES_FEN", "flow_features", "live_versions", "month_features"]

FEATURE_FEES_FEN = {"V1": 10_000, "V2": 5_000, "V3": 5_000, "V4": 5_000, "V6": 5_000}
"""Each value-added feature's monthly fee, in fen."""
FEATURES = tuple(FEATURE_FEES_FEN)
"""The features billed by the month, in the brief's order."""


def flow_features(flow: Mapping[str, Any]) -> set[str]:
    """The value-added features a flow (its data, as the YAML reads) uses."""
    found: set[str] = set()
    extensions = flow.get("extensions")
    if isinstance(extensions, Mapping) and extensions.get("numbers"):
        found.add("V1")
    groups = flow.get("groups") or {}
    remembered = bool(flow.get("call_memory"))
    if isinstance(groups, Mapping):
        remembered = remembered or any(
            isinstance(g, Mapping) and g.get("call_memory") for g in groups.values()
        )
    if remembered:
        found.add("V3")
    if flow.get("conferences"):
        found.add("V4")
    return found


def live_versions(events: Iterable[Mapping[str, Any]], since: float, until: float) -> list[int]:
    """The versions live at some moment of ``[since, until)``, from a number's review events
    (``publish`` and ``rollback`` put a version live at ``at``)."""
    before: int | None = None
    during: list[int] = []
    for event in events:
        if event.get("action") not in ("publish", "rollback"):
            continue
        at, version = float(event["at"]), int(event["version"])
        if at < since:
            before = version
        elif at < until:
            during.append(version)
    found = ([before] if before is not None else []) + during
    return list(dict.fromkeys(found))


def month_features(store: Any, did: str, since: float, until: float) -> set[str]:
    """V1, V3 and V4 of ``did`` in ``[since, until)`` from the flow store ``store``."""
    import yaml

    found: set[str] = set()
    for version in live_versions(store.events(did), since, until):
        try:
            data = yaml.safe_load(store.get(did, version).content)
        except yaml.YAMLError:
            continue  # a published version always parsed; one that no longer does bills nothing
        if isinstance(data, Mapping):
            found |= flow_features(data)
    return found


def fees(features: Sequence[str]) -> tuple[tuple[str, ...], int]:
    """The billed features in the brief's order (unknown names and V5 dropped: seats are
    billed as seats) and their total fee in fen."""
    billed = tuple(f for f in FEATURES if f in set(features))
    return billed, sum(FEATURE_FEES_FEN[f] for f in billed)
