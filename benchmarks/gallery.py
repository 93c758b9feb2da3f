"""Gallery benchmark: construction and search keystrokes over 100 and 10,000 templates.

Each size gets its own sandbox (``generate=N``, no demo catalogue). Construction is timed end
to end (loading the whole catalogue over HTTP, building the widgets, first page). A keystroke
is setting ``gallery.search`` to the next prefix of a phrase, as typing in the search box does:
local filtering plus updating the visible cards. The obvious alternative, asking the server for the
first page of matches on every keystroke, is timed for comparison.

Target: keystroke median under 50 ms at 10,000 templates. The ratio to the 100 case is printed
for information: plain pandas substring matching grows with the catalogue, well within target.

    .venv/bin/python benchmarks/gallery.py [--sizes 100 10000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from dr_notebook.client import Client
from dr_notebook.gallery import TemplateGallery
from dr_notebook.sandbox.testing import start_sandbox

PHRASES = ["churn dashboard", "swift fraud app", "streamlit", "forecast job 0012", "zz"]
TARGET_MS = 50.0


def _ms(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def _prefixes(phrase: str) -> list[str]:
    return [phrase[:i] for i in range(1, len(phrase) + 1)]


def measure(size: int, repeat: int) -> dict[str, float]:
    """Median timings (ms) for one catalogue size."""
    with start_sandbox(generate=size, demo=False, seed=7) as sb:
        client = Client(endpoint=sb.endpoint, token=sb.token, progress=False)
        build: list[float] = []
        keys: list[float] = []
        for _ in range(repeat):
            # A new gallery each round: every keystroke below is typed for the first time
            # (the gallery keeps recent search results, so retyping would cost nothing).
            start = time.perf_counter()
            gallery = TemplateGallery(client)
            gallery.wait()  # it loads in the background: time the whole catalogue
            build.append((time.perf_counter() - start) * 1000)
            assert gallery.matches == size, "catalogue not fully loaded"
            for phrase in PHRASES:
                for prefix in _prefixes(phrase):
                    start = time.perf_counter()
                    gallery.search = prefix
                    keys.append((time.perf_counter() - start) * 1000)
                gallery.search = ""
            gallery.close()
        load = statistics.median(_ms(client.templates.frame) for _ in range(repeat))

        server: list[float] = []
        for prefix in _prefixes(PHRASES[0]):
            server.append(_ms(lambda p=prefix: client.templates.list(search=p, limit=12)))
    return {
        "templates": size,
        "build_ms": statistics.median(build),
        "load_ms": load,
        "key_ms": statistics.median(keys),
        "key_p90_ms": statistics.quantiles(keys, n=10)[-1],
        "key_max_ms": max(keys),
        "keys": len(keys),
        "server_key_ms": statistics.median(server),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print a table and the verdict; exit 1 when a target is missed."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 10_000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    results = [measure(size, args.repeat) for size in args.sizes]
    header = (
        f"{'templates':>10} {'build':>9} {'(load)':>9} {'keystroke':>10} {'p90':>8} "
        f"{'max':>8} {'server/key':>11}"
    )
    print("TemplateGallery, medians in ms (keystroke = setting .search to the next prefix)")
    print(header)
    for r in results:
        print(
            f"{r['templates']:>10} {r['build_ms']:>9.1f} {r['load_ms']:>9.1f} "
            f"{r['key_ms']:>10.2f} {r['key_p90_ms']:>8.2f} {r['key_max_ms']:>8.2f} "
            f"{r['server_key_ms']:>11.2f}"
        )
    small, large = results[0], results[-1]
    ratio = large["key_ms"] / small["key_ms"]
    speedup = large["server_key_ms"] / large["key_ms"]
    print(
        f"keystroke median at {large['templates']}: {large['key_ms']:.2f} ms "
        f"(target < {TARGET_MS:.0f} ms); {ratio:.1f}x the {small['templates']} case"
    )
    print(
        f"local filtering vs a server query per keystroke at {large['templates']}: "
        f"{speedup:.1f}x faster"
    )
    ok = large["key_ms"] < TARGET_MS
    print("targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
