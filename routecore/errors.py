"""The exceptions routecore raises, shared by the native core and the pure-Python reference.

The compiled module raises these very classes (it imports them from here), so callers catch
the same exception whichever backend runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from routecore.flow.issues import FlowIssue

__all__ = [
    "ActionError",
    "BillingError",
    "FlowError",
    "LayoutError",
    "NativeImportError",
    "ReviewError",
    "RoutecoreError",
    "SegmentDataError",
    "SelectionError",
    "StateError",
    "StoreError",
    "StoreUnavailable",
    "TimePlanError",
    "TrieError",
]


class RoutecoreError(Exception):
    """Base class of every error routecore raises on purpose."""


class ActionError(RoutecoreError, ValueError):
    """An Action or Event of ``routecore.engine.actions`` is not valid, or cannot be decoded.

    Raised at construction for a value a PBX adapter could get wrong (an unsafe prompt, box or
    room name, a number that is not digits, keys other than ``0-9*#``, a timeout out of range, an
    unknown outcome or cause), and when decoding a dict, JSON or msgpack that is not one (unknown
    ``type``, missing or extra fields, wrong types, garbage bytes). The message names the field.
    """


class BillingError(RoutecoreError, ValueError):
    """Billing cannot be done as asked: a package table that cannot be loaded (the message names
    the file, line and field), an unknown package, a month outside a package's term, a number
    with no package, a month or seat count that cannot be used."""


class LayoutError(RoutecoreError, ValueError):
    """A byte buffer is not a readable routecore table or image.

    Raised for a truncated buffer, a foreign one (wrong magic), another layout version, or a
    table whose content contradicts its header. Nothing is read past the buffer's end.
    """


class NativeImportError(RoutecoreError, ImportError):
    """The compiled core ``routecore._native`` is not built, or cannot be loaded, and the native
    backend was asked for (the default: ``import routecore`` raises it unless
    ``ROUTECORE_BACKEND=py``). The message says how to build it: ``make install`` or
    ``maturin develop --release`` in the source tree."""


class SegmentDataError(RoutecoreError, ValueError):
    """A number-segment source (phone.dat or a user CSV) cannot be loaded; names file and line."""


class TrieError(RoutecoreError, ValueError):
    """A digit trie cannot be built (a key that is not digits, a value out of range)."""


class TimePlanError(RoutecoreError, ValueError):
    """A time plan cannot be built: overlapping or uncovered minutes, bad times, unknown zone.

    ``problems`` lists every problem found, each a readable sentence.
    """

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems: list[str] = list(problems) if problems is not None else [message]


class ReviewError(RoutecoreError, ValueError):
    """A step of the flow review workflow is not allowed: a state that does not permit it, an
    approver who is the author, an unknown number or version. The message says which."""


class StoreError(RoutecoreError, ValueError):
    """A flow or call store cannot be used (not a database, a database of another schema, locked
    by another process for longer than the busy timeout), was asked something impossible (a
    negative retention period, a date range that ends before it starts, an unknown time zone, a
    recording or voicemail reference that is not a plain file name, a purge folder that is not
    a directory), or an image could not be written after its version went live (the message
    says how to write it: ``routecore sync``)."""


class StoreUnavailable(StoreError):
    """A store on a server (PostgreSQL) cannot be reached now: refused, timed out, the
    connection lost. Trying again later may work (an adapter keeps its records in its spool
    meanwhile); nothing of the failed statement was committed unless its answer was lost."""


class SelectionError(RoutecoreError, ValueError):
    """A ring group or a selection request is not valid (size, weights, indices)."""


class StateError(RoutecoreError, ValueError):
    """The shared state file cannot be used, or a state call got a bad argument.

    Raised for a missing, empty, truncated, foreign or corrupt state file (nothing is read past
    its end), one that cannot be allocated (a full file system), one changed under the mapping
    (truncated, rewritten in place, removed or replaced), sizes that differ from the asked ones,
    a full table, a number that is not 3-20 ASCII digits, an unknown destination, a branch or a
    time zone out of range.
    """


class FlowError(RoutecoreError, ValueError):
    """A flow document is not valid; ``errors`` lists every error found, ``warnings`` the rest.

    Each item is a :class:`routecore.flow.FlowIssue` naming the file, the dotted path inside the
    document and the rule (``4008001234.yaml: menus.main.keys.9: unknown target 'sales2'``).
    ``str()`` of the exception is all errors, one a line.
    """

    def __init__(self, errors: list[FlowIssue], warnings: list[FlowIssue] | None = None) -> None:
        self.errors: list[FlowIssue] = list(errors)
        self.warnings: list[FlowIssue] = list(warnings) if warnings is not None else []
        count = len(self.errors)
        head = f"{count} error{'s' if count != 1 else ''} in flow"
        super().__init__("\n".join([head, *(str(e) for e in self.errors)]))
