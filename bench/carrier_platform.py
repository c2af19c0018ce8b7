"""A carrier's platform: many live 400 numbers, generated from the brief's example flows (menus,
area and time routes, groups, extensions, a blacklist, voicemail, a survey), each with its own
number and destinations. Measures, in one run:

- ``routecore import`` of every flow (drafted, approved, published: one process, one image);
- the image's size (an image set of ``--shards`` shards: the index and every shard file) and the
  time to open it and route a first call's number;
- publishing one changed number among them (review state committed, image written, the host's
  generation bumped: what every routing process maps at its next call), the compiled sections
  reused and one shard rewritten; beside it the same publish compiling every live flow into
  one file (the code before: measured on ``--baseline`` numbers and said per number, it takes
  minutes at 100,000).

    .venv/bin/python bench/carrier_platform.py [--numbers 100000] [--baseline 2000] [--shards 256]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TEMPLATES = sorted((ROOT / "examples").glob("*.yaml"))


def generate(folder: Path, count: int) -> list[str]:
    """``count`` flow files: the examples in turn, each under a number of its own and with
    destinations of its own (a platform where no two numbers ring the same phones)."""
    folder.mkdir(parents=True)
    texts = [p.read_text(encoding="utf-8") for p in TEMPLATES]
    numbers = []
    for i in range(count):
        text = texts[i % len(texts)]
        old = text.split("number:", 1)[1].split("\n", 1)[0].strip().strip('"')
        did = f"400{i:07d}"
        text = text.replace(old, did)
        # its own phones: the examples' 1380013xxxx become 1xx + the number's digits
        text = text.replace('"1380013', f'"13{i % 10}{i // 10 % 10000:04d}')
        (folder / f"{did}.yaml").write_text(text, encoding="utf-8")
        numbers.append(did)
    return numbers


def routecore(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "routecore"), *args], capture_output=True, text=True)


def imported(folder: Path, store: Path, image: Path) -> float:
    t0 = time.perf_counter()
    done = routecore("--store", str(store), "import", str(folder), "--author", "ann",
                     "--approve-by", "bob", "--publish-by", "carol", "--image", str(image),
                     "--state", str(folder.parent / "state"))  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"import failed: {done.stderr[-2000:]}")
    return time.perf_counter() - t0


def one_change(store_path: Path, image: Path, did: str, n: int, cached: bool) -> float:
    """Seconds to publish one changed version of ``did`` (approved before the clock starts)."""
    import routecore as rc
    from routecore.cli.common import flow_store
    from routecore.engine.dialer import write_capacities

    class Args:
        store = str(store_path)

    store = flow_store(Args)
    if not cached:
        store._sections = None  # the code before: every live flow validated and compiled,
        store._shards = 0  # into one file
    text = store.get(did, store.live()[did]).content
    changed = text.replace("ring_timeout: 30", f"ring_timeout: {31 + n % 60}")
    changed = changed if changed != text else text + f"\n# edit {n}\n"
    v = store.draft(did, changed, "ann")
    store.submit(did, v.version, "ann")
    store.approve(did, v.version, "bob")
    state = rc.State.open(image.parent / "state")
    t0 = time.perf_counter()

    def bump() -> None:
        from routecore.state.image_set import ImageSet, open_image

        images = open_image(str(image), rc.Image)
        if isinstance(images, ImageSet):
            write_capacities(state, images, [did], store.capacities)
        else:
            write_capacities(state, images)
        state.bump_generation()

    from routecore.flow.compile import compile_texts

    store.publish(did, v.version, "carol", image_path=str(image), compile=compile_texts,
                  on_published=bump)  # fmt: skip
    seconds = time.perf_counter() - t0
    state.close()
    store.close()
    return seconds


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--numbers", type=int, default=100_000)
    p.add_argument("--baseline", type=int, default=2_000)
    p.add_argument("--publishes", type=int, default=5)
    p.add_argument("--shards", type=int, default=256)
    args = p.parse_args()
    os.environ["ROUTECORE_IMAGE_SHARDS"] = str(args.shards)
    import routecore as rc

    tmp = Path(tempfile.mkdtemp(prefix="routecore-platform-"))
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; "
          f"{len(TEMPLATES)} example flows as templates")  # fmt: skip
    for size, label in ((args.baseline, "baseline"), (args.numbers, "platform")):
        folder = tmp / label
        t0 = time.perf_counter()
        numbers = generate(folder / "flows", size)
        generated = time.perf_counter() - t0
        rc.State.create(folder / "state", destinations=size * 4 + 64, memory=1024,
                        numbers=size + 8).close()  # fmt: skip
        store, image = folder / "flows.db", folder / "routes.img"
        seconds = imported(folder / "flows", store, image)
        shards = Path(f"{image}.d")
        files = list(shards.iterdir()) if shards.is_dir() else []
        size_mb = (image.stat().st_size + sum(f.stat().st_size for f in files)) / 1e6
        from routecore.state.image_set import open_image

        t1 = time.perf_counter()
        images = open_image(str(image), rc.Image)
        images.blob(f"{numbers[size // 2]}/flow")  # a first call's number: its shard mapped
        opened = time.perf_counter() - t1
        print(f"{size:,} numbers ({generated:.0f} s to write the files):")
        print(f"  import, approve and publish  {seconds:8.1f} s   ({seconds / size * 1e3:.2f} ms a "
              f"flow; aim: 100,000 in <= 600 s)")  # fmt: skip
        print(f"  image                        {size_mb:8.1f} MB  ({size_mb * 1e3 / size:.2f} kB a "
              f"number, {len(files)} shards; opened and a number found in "
              f"{opened * 1e3:.1f} ms)")  # fmt: skip
        cached = [one_change(store, image, numbers[(i * 7919) % size], i, True)
                  for i in range(args.publishes)]  # fmt: skip
        print(f"  publish one change (sections reused, one shard rewritten): median "
              f"{statistics.median(cached):.2f} s, "
              f"max {max(cached):.2f} s over {args.publishes}  (aim <= 1 s)")  # fmt: skip
        if label == "baseline":
            before = one_change(store, image, numbers[1], 99, False)
            print(f"  publish one change, every flow compiled (the code before): {before:.2f} s "
                  f"= {before / size * 1e3:.2f} ms a live number "
                  f"(x {before / statistics.median(cached):.1f})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
