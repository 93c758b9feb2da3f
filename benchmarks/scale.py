"""Scale benchmark: 1,000, 10,000 (and with ``--large`` 100,000) templates, at 0 and 50 ms.

For each size and latency, against a sandbox with a generated catalogue, each measurement in a
fresh subprocess (so that sizes do not share a heap and peak RSS is the measurement's own):

- list: ``client.templates.list()``;
- frame: ``client.templates.frame()`` (listing included: it streams the pages into columns);
- frame(list): ``templates_frame()`` over an already listed catalogue (building only);
- first cards: from ``TemplateGallery(client)`` until the first card shows a template;
- loaded: until the gallery's whole catalogue is in (``gallery.wait()``);
- keystroke: median of setting ``gallery.search`` to successive prefixes;
- RSS: the gallery subprocess's peak resident memory, and per template the part above what the
  process held before loading (imports, connection).

With ``--repeat N`` every figure is the median of N interleaved runs. Every time is printed
with its ratio to the previous size (10x the templates: linear is 10x).
Targets, at 10,000 templates and 50 ms: first cards within 3 round trips, the full load within
1.2x of ``frame()``; 100,000 (``--large``) at most 12x 10,000 for frame and the gallery's load.
The log-log plot of the times goes to ``docs/scale.png`` (``--plot PATH`` to change).

    .venv/bin/python benchmarks/scale.py [--large] [--sizes 1000 10000] [--latencies 0 50]
                                         [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ENDPOINT_ENV, TOKEN_ENV = "DR_SCALE_ENDPOINT", "DR_SCALE_TOKEN"
KINDS = ("list", "frame", "build", "gallery")
PHRASES = ["churn dashboard", "swift fraud app", "streamlit", "forecast job 0012", "zz"]
FIRST_CARDS_ROUND_TRIPS = 3
LOAD_VS_FRAME = 1.2
LARGE_RATIO = 12.0
COLUMNS = [
    ("list", "list"),
    ("frame", "frame"),
    ("build", "frame(list)"),
    ("first_cards", "first cards"),
    ("loaded", "loaded"),
    ("key_ms", "key ms"),
]


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _child(kind: str) -> dict[str, Any]:
    """One measurement in this (fresh) process, against the sandbox named in the environment."""
    import dr_notebook.frames  # noqa: F401  (pandas imported, as in a session)
    from dr_notebook.client import Client

    client = Client(os.environ[ENDPOINT_ENV], os.environ[TOKEN_ENV], progress=False)
    client.templates.list(limit=1)  # connected, as a session would be
    out: dict[str, Any] = {"base_mb": _peak_rss_mb()}
    if kind == "list":
        start = time.perf_counter()
        out["count"] = len(client.templates.list())
        out["list"] = time.perf_counter() - start
    elif kind == "frame":
        start = time.perf_counter()
        out["count"] = len(client.templates.frame())
        out["frame"] = time.perf_counter() - start
    elif kind == "build":
        from dr_notebook.frames import templates_frame

        templates = client.templates.list()
        start = time.perf_counter()
        out["count"] = len(templates_frame(templates))
        out["build"] = time.perf_counter() - start
    else:
        out.update(_gallery(client))
    out["rss_mb"] = _peak_rss_mb()
    client.close()
    return out


def _gallery(client: Any) -> dict[str, Any]:
    from dr_notebook.gallery import TemplateGallery
    from dr_notebook.gallery.browser import TemplateCard

    first: list[float] = []
    show = TemplateCard.show

    def timed_show(card: TemplateCard, *args: Any, **kwargs: Any) -> None:
        show(card, *args, **kwargs)
        if not first:
            first.append(time.perf_counter())

    TemplateCard.show = timed_show  # type: ignore[method-assign]
    start = time.perf_counter()
    gallery = TemplateGallery(client)
    gallery.wait()
    loaded = time.perf_counter() - start
    keys: list[float] = []
    for phrase in PHRASES:
        for end in range(1, len(phrase) + 1):
            t = time.perf_counter()
            gallery.search = phrase[:end]
            keys.append((time.perf_counter() - t) * 1000)
        gallery.search = ""
    count = len(gallery.frame)
    gallery.close()
    return {
        "count": count,
        "first_cards": first[0] - start if first else float("nan"),
        "loaded": loaded,
        "key_ms": statistics.median(keys),
    }


def _run_child(kind: str, endpoint: str, token: str) -> dict[str, Any]:
    env = {**os.environ, ENDPOINT_ENV: endpoint, TOKEN_ENV: token}
    done = subprocess.run(
        [sys.executable, __file__, "--child", kind],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(size: int, latencies: list[int], repeat: int = 1) -> list[dict[str, Any]]:
    """One row per latency for a catalogue of ``size`` templates: each figure the median of
    ``repeat`` runs, the kinds interleaved (a busy moment on the machine hits them alike)."""
    from dr_notebook.sandbox.testing import start_sandbox

    rows = []
    with start_sandbox(generate=size, demo=False, seed=7) as sb:
        for latency in latencies:
            sb.configure(latency_ms=latency)
            runs: list[dict[str, Any]] = []
            for _ in range(repeat):
                run: dict[str, Any] = {}
                for kind in KINDS:
                    result = _run_child(kind, sb.endpoint, sb.token)
                    if result.pop("count") != size:
                        raise SystemExit(f"{kind}: not every template came back")
                    rss, base = result.pop("rss_mb"), result.pop("base_mb")
                    if kind == "gallery":
                        run["rss_mb"], run["base_mb"] = rss, base
                    run.update(result)
                runs.append(run)
            row: dict[str, Any] = {"templates": size, "latency_ms": latency}
            row.update({key: statistics.median(run[key] for run in runs) for key in runs[0]})
            row["load_vs_frame"] = [run["loaded"] / run["frame"] for run in runs]
            rows.append(row)
            print(_line(row), flush=True)
    return rows


def _line(row: dict[str, Any], previous: dict[str, Any] | None = None) -> str:
    cells = [f"{row['templates']:>8,}", f"{row['latency_ms']:>4}"]
    for key, _ in COLUMNS:
        value = row[key]
        text = f"{value:.2f}" if key == "key_ms" else f"{value:.3f}"
        if previous is not None:
            text += f" ({value / previous[key]:4.1f}x)"
        cells.append(f"{text:>16}" if previous is not None else f"{text:>11}")
    per = (row["rss_mb"] - row["base_mb"]) * 1024 / row["templates"]
    cells.append(f"{row['rss_mb']:>7.0f} MB {per:6.1f} KB/t")
    return " ".join(cells)


def report(rows: list[dict[str, Any]]) -> bool:
    """Print the table with ratios to the previous size and the verdict; True when met."""
    print(
        "\nseconds (ratio to the previous size); keystroke in ms; peak RSS of the gallery process"
    )
    header = f"{'templates':>8} {'ms':>4} " + " ".join(f"{label:>16}" for _, label in COLUMNS)
    print(header + "   peak RSS, above the process's start per template")
    by_key = {(r["templates"], r["latency_ms"]): r for r in rows}
    sizes = sorted({r["templates"] for r in rows})
    for row in sorted(rows, key=lambda r: (r["latency_ms"], r["templates"])):
        index = sizes.index(row["templates"])
        previous = by_key.get((sizes[index - 1], row["latency_ms"])) if index else None
        print(_line(row, previous) if previous else _line(row, row))
    ok = True
    at = by_key.get((10_000, 50))
    if at is not None:
        trips = at["first_cards"] / 0.05
        load = at["loaded"] / at["frame"]
        each = ", ".join(f"{ratio:.2f}" for ratio in at["load_vs_frame"])
        print(
            f"10,000 at 50 ms: first cards after {trips:.1f} round trips "
            f"(target <= {FIRST_CARDS_ROUND_TRIPS}); full load {load:.2f}x frame() "
            f"(target <= {LOAD_VS_FRAME}; run by run: {each})"
        )
        ok = trips <= FIRST_CARDS_ROUND_TRIPS and load <= LOAD_VS_FRAME
    for latency in sorted({r["latency_ms"] for r in rows}):
        small, large = by_key.get((10_000, latency)), by_key.get((100_000, latency))
        if small and large:
            frame, loaded = large["frame"] / small["frame"], large["loaded"] / small["loaded"]
            print(
                f"100,000 vs 10,000 at {latency} ms: frame {frame:.1f}x, gallery load "
                f"{loaded:.1f}x (target <= {LARGE_RATIO:g}x)"
            )
            ok = ok and frame <= LARGE_RATIO and loaded <= LARGE_RATIO
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print("targets met" if ok else "targets NOT met")
    return ok


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    """A log-log plot of the times against the number of templates, one panel per latency."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    latencies = sorted({r["latency_ms"] for r in rows})
    fig, axes = plt.subplots(1, len(latencies), figsize=(5.2 * len(latencies), 4.2), sharey=True)
    axes = [axes] if len(latencies) == 1 else list(axes)
    for ax, latency in zip(axes, latencies, strict=True):
        mine = sorted((r for r in rows if r["latency_ms"] == latency), key=lambda r: r["templates"])
        sizes = [r["templates"] for r in mine]
        for key, label in COLUMNS[:-1]:
            ax.plot(sizes, [r[key] for r in mine], marker="o", label=label)
        linear = [mine[0]["frame"] * s / sizes[0] for s in sizes]
        ax.plot(sizes, linear, color="grey", linestyle=":", label="linear (from frame)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("templates")
        ax.set_title(f"{latency} ms per request")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("seconds")
    axes[-1].legend(fontsize="small")
    fig.suptitle("dr-notebook at scale (sandbox, generated catalogues)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    """Run the sizes, print the table, write the plot; exit 1 when a target is missed."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--child", choices=KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--large", action="store_true", help="add 100,000 templates (minutes)")
    parser.add_argument("--latencies", type=int, nargs="+", default=[0, 50])
    parser.add_argument("--repeat", type=int, default=1, help="median of this many runs")
    parser.add_argument(
        "--plot", type=Path, default=Path(__file__).parent.parent / "docs/scale.png"
    )
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(args.child)))
        return 0
    sizes = sorted(set(args.sizes) | ({100_000} if args.large else set()))
    rows = [row for size in sizes for row in measure(size, args.latencies, args.repeat)]
    ok = report(rows)
    plot(rows, args.plot)
    print(f"plot written to {args.plot}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
