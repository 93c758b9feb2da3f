"""Listing benchmark: every template of a 10,000-template catalogue, 50 ms per request.

Three ways to list them all against the same sandbox:

- ``client.templates.list()``: page one, then the remaining pages concurrently by offset;
- a plain sequential ``requests`` loop following ``next`` at ``limit=100``, the obvious way;
- DataRobot's official client, ``datarobot.CustomTemplate.list()``.

The floor is ``ceil(pages / max_workers) x latency``: the time the latency alone costs when
``max_workers`` requests are always in flight. Targets: at least 6x faster than the sequential
loop, and within 1.5x of the floor.

    .venv/bin/python benchmarks/list_templates.py [--size 10000] [--latency-ms 50] [--repeat 3]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable

import requests

from dr_notebook.client import Client
from dr_notebook.resources.pagination import PAGE_SIZE
from dr_notebook.sandbox.testing import start_sandbox

TARGET_SPEEDUP = 6.0
TARGET_FLOOR_RATIO = 1.5


def sequential_loop(endpoint: str, token: str) -> int:
    """List all templates the obvious way: one page after another, following ``next``."""
    count = 0
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {token}"
        url: str | None = f"{endpoint}/customTemplates/?limit={PAGE_SIZE}"
        while url:
            response = session.get(url, timeout=60)
            response.raise_for_status()
            body = response.json()
            count += len(body["data"])
            url = body.get("next")
    return count


def official_client(endpoint: str, token: str) -> Callable[[], int]:
    """``datarobot.CustomTemplate.list()`` with a client set up for the sandbox."""
    from datarobot.client import Client as OfficialClient
    from datarobot.models.custom_templates import CustomTemplate

    warnings.filterwarnings("ignore", category=FutureWarning, module="datarobot")
    OfficialClient(endpoint=endpoint, token=token)
    return lambda: len(CustomTemplate.list())


def timed(fn: Callable[[], int], expected: int) -> float:
    """Seconds one run of ``fn`` takes; it must return ``expected`` templates."""
    start = time.perf_counter()
    count = fn()
    seconds = time.perf_counter() - start
    if count != expected:
        raise SystemExit(f"expected {expected} templates, got {count}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--max-workers", type=int, default=8)
    parser.add_argument("--skip-official", action="store_true", help="leave out datarobot")
    args = parser.parse_args(argv)

    pages = math.ceil(args.size / PAGE_SIZE)
    floor = math.ceil(pages / args.max_workers) * args.latency_ms / 1000
    print(
        f"{args.size} templates, {pages} pages of {PAGE_SIZE}, {args.latency_ms} ms per request, "
        f"max_workers={args.max_workers}, median of {args.repeat}"
    )
    with start_sandbox(generate=args.size, demo=False, latency_ms=args.latency_ms) as sb:
        client = Client(sb.endpoint, sb.token, max_workers=args.max_workers, progress=False)
        client.templates.list(limit=1)  # connect once, as a session would have
        ways: dict[str, Callable[[], int]] = {
            "ours": lambda: len(client.templates.list()),
            "loop": lambda: sequential_loop(sb.endpoint, sb.token),
        }
        if not args.skip_official:
            ways["official"] = official_client(sb.endpoint, sb.token)
        runs: dict[str, list[float]] = {name: [] for name in ways}
        # Interleaved, so that a busy moment on the machine hits every way alike.
        for _ in range(args.repeat):
            for name, fn in ways.items():
                runs[name].append(timed(fn, args.size))
        client.close()
    ours, loop = statistics.median(runs["ours"]), statistics.median(runs["loop"])
    official = statistics.median(runs["official"]) if "official" in runs else None

    rows = [
        ("dr-notebook client.templates.list()", ours),
        ("sequential requests loop (next)", loop),
    ]
    if official is not None:
        rows.append(("datarobot.CustomTemplate.list()", official))
    for label, seconds in rows:
        print(f"  {label:<38} {seconds * 1000:8.0f} ms   {seconds / ours:5.1f}x ours")
    print(f"  {'floor ceil(pages/max_workers) x latency':<38} {floor * 1000:8.0f} ms")
    speedup, ratio = loop / ours, ours / floor
    print(
        f"speed-up over the sequential loop: {speedup:.1f}x (target >= {TARGET_SPEEDUP:g}x); "
        f"ours / floor: {ratio:.2f} (target <= {TARGET_FLOOR_RATIO:g})"
    )
    met = speedup >= TARGET_SPEEDUP and ratio <= TARGET_FLOOR_RATIO
    print(f"load average while running: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print("targets met" if met else "targets NOT met")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
