"""The flow store's review workflow (F1): draft, submit, approve/reject, publish, history,
diff, rollback; invalid flows never go further than a draft; a failed publish changes nothing."""

from __future__ import annotations

import pytest
import yaml

import routecore
from routecore.errors import ReviewError
from routecore.store import FlowStore

DID = "4008001234"


class Invalid(ValueError):
    pass


def validate(content: str, source: str) -> dict[str, object]:
    """A stand-in for the flow validator: YAML with a 'version' int and no 'broken' key."""
    data = yaml.safe_load(content)
    if not isinstance(data, dict) or "broken" in data or not isinstance(data.get("v"), int):
        raise Invalid(f"{source}: not a valid flow")
    return data


def compile_image(contents: dict[str, str]) -> bytes:
    """A real image: one trie per live number holding that flow's 'v' under key '0'."""
    sections = {
        did: routecore.Trie.build({"0": validate(text, did)["v"]}).to_bytes()  # type: ignore[dict-item]
        for did, text in contents.items()
    }
    return routecore.build_image(sections)


@pytest.fixture
def store(located):
    s = FlowStore(located("flows.db"), validate=validate)
    yield s
    s.close()


def live_v(image_path, did=DID):
    return routecore.Image.open(image_path).trie(did).lookup("0")


def approved(store, content, author="ann", reviewer="bob", did=DID):
    v = store.draft(did, content, author)
    store.submit(did, v.version, author)
    return store.approve(did, v.version, reviewer)


def test_the_whole_workflow(store, tmp_path):
    img = str(tmp_path / "routes.img")
    v1 = store.draft(DID, "v: 1\n", "ann")
    assert (v1.version, v1.state, v1.live) == (1, "draft", False)
    assert store.submit(DID, 1, "ann").state == "submitted"
    with pytest.raises(ReviewError, match="ann wrote it and may not approve it"):
        store.approve(DID, 1, "ann")
    a = store.approve(DID, 1, "bob")
    assert (a.state, a.reviewer) == ("approved", "bob")
    bumps = []
    p = store.publish(
        DID, 1, "carol", image_path=img, compile=compile_image, on_published=lambda: bumps.append(1)
    )
    assert (p.state, p.live) == ("published", True) and bumps == [1]
    assert live_v(img) == 1 and store.live() == {DID: 1}
    approved(store, "v: 2\n")
    store.publish(DID, 2, "carol", image_path=img, compile=compile_image)
    assert live_v(img) == 2
    assert [(h.version, h.state, h.live) for h in store.history(DID)] == [
        (1, "published", False),
        (2, "published", True),
    ]
    store.rollback(DID, 1, "carol", image_path=img, compile=compile_image)
    assert live_v(img) == 1 and store.live() == {DID: 1}
    assert "-v: 1\n+v: 2\n" in store.diff(DID, 1, 2)
    assert [e["action"] for e in store.events(DID)] == [
        "draft",
        "submit",
        "approve",
        "publish",
        "draft",
        "submit",
        "approve",
        "publish",
        "rollback",
    ]


def test_rejected_versions_go_back_to_the_author(store):
    store.draft(DID, "v: 1\n", "ann")
    store.submit(DID, 1, "ann")
    r = store.reject(DID, 1, "bob", "greeting missing")
    assert (r.state, r.reviewer, r.note) == ("rejected", "bob", "greeting missing")
    with pytest.raises(ReviewError, match="cannot approve a rejected version"):
        store.approve(DID, 1, "bob")
    assert store.submit(DID, 1, "ann").state == "submitted"  # resubmitted after a fix


def test_invalid_flows_never_go_past_a_draft(store, tmp_path):
    v = store.draft(DID, "broken: yes\n", "ann")
    assert v.state == "draft"
    with pytest.raises(Invalid):
        store.submit(DID, v.version, "ann")
    with pytest.raises(ReviewError, match="cannot approve a draft"):
        store.approve(DID, v.version, "bob")
    with pytest.raises(ReviewError, match="cannot publish a draft"):
        store.publish(DID, v.version, "c", image_path=str(tmp_path / "i"), compile=compile_image)
    assert not (tmp_path / "i").exists()


def test_order_of_steps_is_enforced(store, tmp_path):
    store.draft(DID, "v: 1\n", "ann")
    with pytest.raises(ReviewError, match="cannot approve a draft"):
        store.approve(DID, 1, "bob")
    with pytest.raises(ReviewError, match="cannot roll back to a draft"):
        store.rollback(DID, 1, "c", image_path=str(tmp_path / "i"), compile=compile_image)
    with pytest.raises(ReviewError, match="no version 9"):
        store.submit(DID, 9, "ann")


def test_a_failed_publish_leaves_the_previous_version_live(store, tmp_path):
    img = str(tmp_path / "routes.img")
    approved(store, "v: 1\n")
    store.publish(DID, 1, "c", image_path=img, compile=compile_image)
    before = open(img, "rb").read()
    approved(store, "v: 2\n")

    def crashing(contents):
        raise RuntimeError("compiler crashed")

    with pytest.raises(RuntimeError):
        store.publish(DID, 2, "c", image_path=img, compile=crashing)
    assert open(img, "rb").read() == before and store.live() == {DID: 1}
    assert store.get(DID, 2).state == "approved"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_publishing_keeps_every_live_number_in_the_image(store, tmp_path):
    img = str(tmp_path / "routes.img")
    approved(store, "v: 1\n", did="4008001234")
    approved(store, "v: 7\n", did="4009990000")
    store.publish("4008001234", 1, "c", image_path=img, compile=compile_image)
    store.publish("4009990000", 1, "c", image_path=img, compile=compile_image)
    image = routecore.Image.open(img)
    assert image.names() == ["4008001234", "4009990000"]
    assert live_v(img, "4009990000") == 7


def test_the_store_survives_reopening(tmp_path):
    path = str(tmp_path / "flows.db")
    s = FlowStore(path, validate=validate)
    approved(s, "v: 1\n")
    s.close()
    again = FlowStore(path, validate=validate)
    assert again.get(DID, 1).state == "approved" and again.numbers() == [DID]
    again.close()


def _draft_many(location: str, author: str) -> None:
    store = FlowStore(location, validate=validate)
    for i in range(15):
        v = store.draft(DID, f"v: {i}\n", author)
        store.submit(DID, v.version, author)
    store.close()


def test_writers_on_several_hosts_never_share_a_version(located):
    """Three processes drafting one number at once (hosts, on PostgreSQL): the review steps
    take turns, every version once, numbered without a gap, each logged once."""
    import multiprocessing

    location = located("flows.db")
    FlowStore(location, validate=validate).close()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_draft_many, args=(location, a)) for a in ("ann", "bea", "cy")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    store = FlowStore(location, validate=validate)
    history = store.history(DID)
    assert [v.version for v in history] == list(range(1, 46))
    assert {v.state for v in history} == {"submitted"}
    assert sorted(e["action"] for e in store.events(DID)) == ["draft"] * 45 + ["submit"] * 45
    store.close()
