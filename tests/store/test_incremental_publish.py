"""Publishing with a section compiler: only what changed is validated and compiled, the other
live numbers' sections come from the store, and the image is byte for byte the one compiled from
scratch, whatever the order of publishes, rollbacks and bulk publishes (issue 26)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routecore.flow import loads_flow
from routecore.flow.compile import COMPILER, compile_text, compile_texts, image_of
from routecore.store import FlowStore
from routecore.store.flows import Sections

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NUMBERS = ("4006001001", "4006001003", "4006001005")
TEXTS = {did: (EXAMPLES / f"{did}.yaml").read_text(encoding="utf-8") for did in NUMBERS}


def validate(content, source):
    return loads_flow(content, source=source)[0]


class Counting:
    """The section compiler, counting what it compiles."""

    def __init__(self, compiler_id: str = COMPILER) -> None:
        self.compiled: list[str] = []
        self.sections = Sections(compiler_id, self.compile, image_of)

    def compile(self, did: str, text: str) -> dict[str, bytes]:
        self.compiled.append(did)
        return compile_text(did, text)


def variant(did: str, n: int) -> str:
    """The example flow of ``did`` with a ring timeout of its own (an edited version)."""
    text = TEXTS[did]
    for old in ("ring_timeout: 30", "ring_timeout: 20", "ring_timeout: 25"):
        text = text.replace(old, f"ring_timeout: {10 + n}")
    return text


def approved(store: FlowStore, did: str, n: int) -> int:
    v = store.draft(did, variant(did, n), "ann")
    store.submit(did, v.version, "ann")
    store.approve(did, v.version, "bob")
    return v.version


def from_scratch(store: FlowStore) -> bytes:
    return compile_texts({did: store.get(did, v).content for did, v in store.live().items()})


def test_a_publish_compiles_only_the_number_that_changed(tmp_path, located):
    counting = Counting()
    store = FlowStore(located("flows.db"), validate=validate, sections=counting.sections)
    image = str(tmp_path / "routes.img")
    for i, did in enumerate(NUMBERS):
        store.publish(
            did, approved(store, did, i), "carol", image_path=image, compile=compile_texts
        )
    assert counting.compiled == list(NUMBERS)  # each once, when it went live
    counting.compiled.clear()
    store.publish(NUMBERS[1], approved(store, NUMBERS[1], 9), "carol", image_path=image,
                  compile=compile_texts)  # fmt: skip
    assert counting.compiled == [NUMBERS[1]]
    assert Path(image).read_bytes() == from_scratch(store)
    store.close()
    # another compiler (a release that changed the sections): everything compiled again, once
    other = Counting("routecore-sections-next")
    store = FlowStore(located("flows.db"), validate=validate, sections=other.sections)
    assert store.sync_image(image, compile=compile_texts) is False  # the same image
    assert sorted(other.compiled) == sorted(NUMBERS)
    other.compiled.clear()
    store.sync_image(image, compile=compile_texts)
    assert other.compiled == []
    store.close()


def test_a_bulk_publish_writes_one_image_of_every_version(tmp_path):
    store = FlowStore(str(tmp_path / "flows.db"), validate=validate, sections=Counting().sections)
    items = [(did, approved(store, did, i)) for i, did in enumerate(NUMBERS)]
    image = tmp_path / "routes.img"
    published = []
    assert store.publish_many(items, "carol", image_path=str(image), compile=compile_texts,
                              on_published=lambda: published.append(1)) == 3  # fmt: skip
    assert store.live() == dict(items) and published == [1]
    assert image.read_bytes() == from_scratch(store)
    assert [e["action"] for e in store.events(NUMBERS[0])][-1] == "publish"
    store.close()


OPS = st.lists(
    st.tuples(st.sampled_from(["publish", "rollback", "bulk"]), st.sampled_from(NUMBERS),
              st.integers(0, 40)),
    min_size=1, max_size=8,
)  # fmt: skip


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(OPS)
def test_an_image_built_incrementally_equals_one_built_from_scratch(ops):
    with tempfile.TemporaryDirectory() as tmp:
        store = FlowStore(f"{tmp}/flows.db", validate=validate, sections=Counting().sections)
        image = f"{tmp}/routes.img"
        for op, did, n in ops:
            if op == "publish":
                store.publish(did, approved(store, did, n), "carol", image_path=image,
                              compile=compile_texts)  # fmt: skip
            elif op == "bulk":
                items = [(d, approved(store, d, n + i)) for i, d in enumerate(NUMBERS)]
                store.publish_many(items, "carol", image_path=image, compile=compile_texts)
            else:
                published = [v.version for v in store.history(did) if v.state == "published"]
                if published and not any(v.live and v.version == published[0]
                                         for v in store.history(did)):  # fmt: skip
                    store.rollback(did, published[0], "carol", image_path=image,
                                   compile=compile_texts)  # fmt: skip
            if store.live():
                assert Path(image).read_bytes() == from_scratch(store)
        store.close()
