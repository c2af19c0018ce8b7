"""Digit trie, plainly: the twin of ``crates/routecore-core/src/trie.rs`` (same bytes, same
answers)."""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping

from routecore.errors import TrieError
from routecore.py.layout import Buffer, TableWriter, corrupt, need, open_table, verify_table

MAGIC = b"RCTR"
VERSION = 1
NONE = 0xFFFFFFFF
MAX_KEY_LEN = 64
_NODES_OFF = 24
_NODE = struct.Struct("<HHIII")

Entries = Mapping[str, int] | Iterable[tuple[str, int]]


def _items(entries: Entries) -> list[tuple[str, int]]:
    return list(entries.items()) if isinstance(entries, Mapping) else list(entries)


class _Node:
    __slots__ = ("children", "exact", "prefix")

    def __init__(self) -> None:
        self.children: dict[int, _Node] = {}
        self.prefix = NONE
        self.exact = NONE


def build_bytes(prefixes: Entries = (), exact: Entries = ()) -> bytes:
    """Build a trie table; raises TrieError on a bad key or value."""
    root = _Node()
    count = 0
    for items, is_exact in ((_items(prefixes), False), (_items(exact), True)):
        for key, value in items:
            count += 1
            if not isinstance(key, str):
                raise TrieError(f"key {key!r} is not a string of digits 0-9")
            if len(key.encode()) > MAX_KEY_LEN:
                raise TrieError(f"key {key!r} is longer than {MAX_KEY_LEN} digits")
            if not all("0" <= ch <= "9" for ch in key):
                raise TrieError(f"key {key!r} is not a string of digits 0-9")
            if not isinstance(value, int) or not 0 <= value < NONE:
                raise TrieError(f"value {value} of key {key!r} is out of range 0..{NONE - 1}")
            node = root
            for ch in key:
                node = node.children.setdefault(ord(ch) - 48, _Node())
            if (node.exact if is_exact else node.prefix) != NONE:
                raise TrieError(f"key {key!r} is given twice")
            if is_exact:
                node.exact = value
            else:
                node.prefix = value
    order = [root]
    i = 0
    while i < len(order):
        n = order[i]
        order.extend(n.children[d] for d in sorted(n.children))
        i += 1
    index = {id(n): pos for pos, n in enumerate(order)}
    w = TableWriter(MAGIC, VERSION)
    w.pack("II", len(order), count)
    for n in order:
        mask = 0
        for d in n.children:
            mask |= 1 << d
        first = index[id(n.children[min(n.children)])] if n.children else 0
        w.raw(_NODE.pack(mask, 0, first, n.prefix, n.exact))
    return w.finish()


class Trie:
    """Longest-prefix match over digit strings to small integer values.

    *Prefix* entries match every input that starts with their key; *exact* entries match only
    the whole input. ``longest`` returns the value of the longest match and how many digits it
    covers; walking stops at the first character that is not a digit.
    """

    __slots__ = ("_entries", "_nodes", "_view")

    def __init__(self, view: memoryview) -> None:
        self._view = view
        need(view, _NODES_OFF, "trie")
        self._nodes, self._entries = struct.unpack_from("<II", view, 16)
        if self._nodes == 0:
            raise corrupt("trie", "no root node")
        need(view, _NODES_OFF + self._nodes * _NODE.size, "trie")

    @classmethod
    def build(cls, prefixes: Entries | None = None, exact: Entries | None = None) -> Trie:
        return cls.from_buffer(build_bytes(prefixes or (), exact or ()))

    @classmethod
    def from_buffer(cls, data: Buffer) -> Trie:
        """Read a trie table in place (LayoutError if it is truncated or foreign)."""
        return cls(open_table(data, MAGIC, VERSION, "trie"))

    def to_bytes(self) -> bytes:
        return bytes(self._view)

    def verify(self) -> None:
        verify_table(self._view, "trie")

    def __len__(self) -> int:
        return int(self._entries)

    def longest(self, key: str) -> tuple[int, int] | None:
        """(value, digits matched) of the longest matching entry, or None."""
        view, nodes = self._view, self._nodes
        best: tuple[int, int] | None = None
        at = 0
        depth = 0
        while True:
            mask, _, first, prefix, exact = _NODE.unpack_from(view, _NODES_OFF + at * _NODE.size)
            if prefix != NONE:
                best = (prefix, depth)
            if depth == len(key):
                if exact != NONE:
                    best = (exact, depth)
                return best
            c = ord(key[depth]) - 48
            if not 0 <= c <= 9 or not mask & (1 << c):
                return best
            nxt = first + (mask & ((1 << c) - 1)).bit_count()
            if nxt >= nodes or nxt == 0:
                return best
            at = nxt
            depth += 1

    def lookup(self, key: str) -> int | None:
        """Value of the longest matching entry, or None."""
        m = self.longest(key)
        return None if m is None else m[0]

    def get(self, key: str) -> int | None:
        """Value stored under exactly ``key`` (an exact entry first, else a prefix entry)."""
        m = self.longest(key)
        return m[0] if m is not None and m[1] == len(key) else None
