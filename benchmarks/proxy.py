"""What the sandbox's application proxy adds: through the proxy against straight to the app.

The app (Starlette under uvicorn, ``dr_notebook.sandbox.testing.proxy``) listens on a Unix
socket (as apps in their own network are reached) or a TCP port; the proxy process
(``runtime.proxy.Proxy`` alone under uvicorn) listens on TCP. For a small page and a 10 MB
download: requests per second (one client, keep-alive; and 8 clients at once) and p50/p99
latency; for websockets: p50/p99 of an echo round trip on one open socket. Direct and proxied
runs are interleaved in rounds (the machine is shared).

    .venv/bin/python benchmarks/proxy.py [--requests 2000] [--downloads 30] [--echoes 2000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

from websockets.sync.client import connect, unix_connect

from dr_notebook.sandbox.testing.proxy import Served, serve

APP = "/custom_applications/bench"
ROUNDS = 3


def percentiles(samples: list[float]) -> tuple[float, float]:
    """p50 and p99 in milliseconds."""
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.median(ordered) * 1000, p99 * 1000


def timed(call: Callable[[], object], count: int) -> list[float]:
    """The duration of each of ``count`` calls, in seconds."""
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


def http_samples(server: Served, path: str, count: int) -> list[float]:
    """Sequential GETs on one keep-alive connection; the body is read to the end."""
    with server.client(timeout=60) as client:
        client.get(path).raise_for_status()  # warm-up

        def one() -> None:
            with client.stream("GET", path) as answer:
                for _ in answer.iter_raw():
                    pass

        return timed(one, count)


def concurrent_rps(server: Served, path: str, count: int, clients: int = 8) -> float:
    """Requests per second with ``clients`` threads, each on its own connection."""

    def worker(n: int) -> None:
        with server.client(timeout=60) as client:
            for _ in range(n):
                client.get(path)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(worker, [count // clients] * clients))
    return (count // clients * clients) / (time.perf_counter() - started)


def ws_samples(url: str, socket_path: str | None, count: int) -> list[float]:
    """Echo round trips of a short text message on one websocket."""
    socket = unix_connect(socket_path, url) if socket_path else connect(url)
    with socket:
        socket.send("warm")
        socket.recv()

        def one() -> None:
            socket.send("ping 1234567890")
            socket.recv()

        return timed(one, count)


def main() -> None:
    parser = argparse.ArgumentParser(description="Through the proxy against straight to the app.")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--downloads", type=int, default=30)
    parser.add_argument("--echoes", type=int, default=2000)
    parser.add_argument("--upstream", choices=["unix", "tcp"], default="unix")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="px-bench-"))
    with ExitStack() as stack:
        socket_path = folder / "app.sock" if args.upstream == "unix" else None
        app = stack.enter_context(serve("upstream", socket_path=socket_path))
        front = stack.enter_context(serve("front", env={"DR_PROXY_UPSTREAM": app.upstream_spec}))
        ways = {"direct": (app, ""), "proxy": (front, APP)}
        results: dict[str, dict[str, list[float]]] = {w: {} for w in ways}
        rps: dict[str, list[float]] = {w: [] for w in ways}
        for _ in range(ROUNDS):
            for way, (server, prefix) in ways.items():
                got = results[way]
                got.setdefault("small", []).extend(
                    http_samples(server, f"{prefix}/", args.requests // ROUNDS)
                )
                got.setdefault("10 MB", []).extend(
                    http_samples(server, f"{prefix}/download?mb=10", args.downloads // ROUNDS)
                )
                ws_url = server.url.replace("http://", "ws://") + f"{prefix}/ws"
                got.setdefault("ws echo", []).extend(
                    ws_samples(ws_url, server.socket_path, args.echoes // ROUNDS)
                )
                rps[way].append(concurrent_rps(server, f"{prefix}/", args.requests // ROUNDS))
        print(f"upstream on {'a Unix socket' if socket_path else 'TCP'}; proxy on TCP")
        print(f"{'':10} {'':7} {'req/s 1':>8} {'req/s 8':>8} {'p50 ms':>8} {'p99 ms':>8}")
        for kind in ("small", "10 MB", "ws echo"):
            p50s = {}
            for way in ways:
                samples = results[way][kind]
                p50, p99 = percentiles(samples)
                p50s[way] = p50
                one = len(samples) / sum(samples)
                many = f"{statistics.median(rps[way]):8.0f}" if kind == "small" else f"{'':>8}"
                print(f"{kind:10} {way:7} {one:8.0f} {many} {p50:8.2f} {p99:8.2f}")
            print(f"{'':10} added p50: {p50s['proxy'] - p50s['direct']:.2f} ms")
        load = os.getloadavg()[0]
        print(f"load average while running: {load:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
