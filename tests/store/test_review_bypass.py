"""F1: no way round the review. The author cannot approve under a variant of their name, and a
flow is stored, compiled and published under its own number only: a file drafted under another
number is refused, and one number's flow can never replace another number's routes."""

from __future__ import annotations

from pathlib import Path

import pytest

import routecore
from routecore.cli import EXIT_INVALID, EXIT_OK, EXIT_REVIEW, main
from routecore.errors import FlowError, ReviewError
from routecore.flow import load_flow, loads_flow
from routecore.flow.compile import compile_flows, compile_texts
from routecore.store import FlowStore
from routecore.store.flows import identity

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
A, B = "4006001001", "4006001003"
TEXT_A = (EXAMPLES / f"{A}.yaml").read_text(encoding="utf-8")
TEXT_B = (EXAMPLES / f"{B}.yaml").read_text(encoding="utf-8")


def validate(content, source):
    return loads_flow(content, source=source, json_format=content.lstrip().startswith("{"))[0]


@pytest.fixture
def store(located):
    s = FlowStore(located("flows.db"), validate=validate)
    yield s
    s.close()


@pytest.mark.parametrize(
    "variant",
    [
        "ann ",
        " ann",
        "Ann",
        "ANN",
        "ａｎｎ",
        "ann\u200b",
        "a\u200dnn",
        "ann\ufe0f",
        "\tann\n",
        "ann\u2800",
        "\u3164ann",
    ],
)
def test_the_author_cannot_approve_under_a_variant_of_their_name(store, variant):
    v = store.draft(A, TEXT_A, "ann")
    store.submit(A, v.version, "ann")
    with pytest.raises(ReviewError, match="wrote it and may not approve it"):
        store.approve(A, v.version, variant)
    with pytest.raises(ReviewError, match="wrote it and may not review it"):
        store.reject(A, v.version, variant, "no")
    assert store.get(A, v.version).state == "submitted"


def test_identities_are_stored_normalised_and_an_empty_one_is_refused(store):
    v = store.draft(A, TEXT_A, "  Ann   Lee ")
    assert v.author == "ann lee" == identity("ＡＮＮ\u00a0lee")
    store.submit(A, v.version, "ann lee")
    assert store.approve(A, v.version, "Bob").reviewer == "bob"
    for empty in ("", "   ", "\u200b", "\t\n"):
        with pytest.raises(ReviewError, match="cannot be empty"):
            store.draft(A, TEXT_A, empty)
    with pytest.raises(ReviewError, match="control"):
        store.draft(A, TEXT_A, "ann\x07")


def test_the_cli_author_cannot_approve_as_a_variant(tmp_path, capsys):
    db = str(tmp_path / "flows.db")
    flow = tmp_path / f"{A}.yaml"
    flow.write_text(TEXT_A, encoding="utf-8")
    assert main(["--store", db, "draft", str(flow), "--author", "ann"]) == EXIT_OK
    assert main(["--store", db, "submit", A, "1", "--by", "ann"]) == EXIT_OK
    capsys.readouterr()
    assert main(["--store", db, "approve", A, "1", "--by", "Ann "]) == EXIT_REVIEW
    assert "may not approve it" in capsys.readouterr().err


def test_drafting_a_file_under_another_number_is_refused(tmp_path, capsys):
    db = str(tmp_path / "flows.db")
    flow = tmp_path / f"{A}.yaml"
    flow.write_text(TEXT_A, encoding="utf-8")
    code = main(["--store", db, "draft", str(flow), "--author", "ann", "--number", B])
    err = capsys.readouterr().err
    assert code == EXIT_INVALID
    assert err.strip() == (
        f"{flow}: number: this is the flow of {A}, not of {B} (--number): "
        "a flow is drafted under its own number"
    )
    assert main(["--store", db, "history", B]) == EXIT_OK
    assert capsys.readouterr().out.strip() == ""  # nothing stored under B
    assert main(["--store", db, "draft", str(flow), "--author", "ann", "--number", A]) == EXIT_OK


def _approved(store, did, text, author="ann", reviewer="bob"):
    v = store.draft(did, text, author)
    store.submit(did, v.version, author)
    return store.approve(did, v.version, reviewer)


def test_publishing_one_numbers_flow_never_replaces_another_numbers_routes(store, tmp_path):
    image = str(tmp_path / "routes.img")
    _approved(store, B, TEXT_B)
    store.publish(B, 1, "carol", image_path=image, compile=compile_texts)
    before = Path(image).read_bytes()
    # A's flow stored under B (a draft through the library, as `draft --number` once allowed)
    v = store.draft(B, TEXT_A, "ann")
    with pytest.raises(FlowError, match=f"this is the flow of {A}, not of {B}"):
        store.submit(B, v.version, "ann")
    # a version that got past submit before the check is stopped at approve and at publish
    store._db.set_state(B, v.version, "submitted", None, None)
    with pytest.raises(FlowError, match=f"this is the flow of {A}, not of {B}"):
        store.approve(B, v.version, "bob")
    store._db.set_state(B, v.version, "approved", "bob", None)
    with pytest.raises(FlowError, match=f"this is the flow of {A}, not of {B}"):
        store.publish(B, v.version, "carol", image_path=image, compile=compile_texts)
    assert Path(image).read_bytes() == before and store.live() == {B: 1}
    assert routecore.Image.open(image).names() == routecore.Image.from_buffer(before).names()


def test_compile_texts_refuses_a_flow_given_under_another_number():
    with pytest.raises(FlowError, match=f"this is the flow of {A}, given as the flow of {B}"):
        compile_texts({B: TEXT_A})
    with pytest.raises(FlowError, match=f"this is the flow of {A}, given as the flow of {B}"):
        compile_texts({A: TEXT_A, B: TEXT_A})  # two contents for one number
    image = routecore.Image.from_buffer(compile_texts({A: TEXT_A, B: TEXT_B}))
    assert f"{A}/flow" in image and f"{B}/flow" in image


def test_an_image_never_holds_two_flows_of_one_number():
    flow = load_flow(EXAMPLES / f"{A}.yaml")
    with pytest.raises(FlowError, match=f"two flows of {A}"):
        compile_flows([flow, flow])


def test_compiling_two_files_of_one_number_is_refused(tmp_path, capsys):
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    for d in ("a", "b"):
        (tmp_path / d / f"{A}.yaml").write_text(TEXT_A, encoding="utf-8")
    out = tmp_path / "routes.img"
    argv = ["compile", str(tmp_path / "a" / f"{A}.yaml"), str(tmp_path / "b" / f"{A}.yaml")]
    assert main([*argv, "-o", str(out)]) == EXIT_INVALID
    assert f"two flows of {A}" in capsys.readouterr().err and not out.exists()
