"""Run the sandbox: command-line options, database set-up, socket binding and uvicorn."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import secrets
import shlex
import signal
import socket
import stat
import sys
import urllib.parse
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dr_notebook.sandbox.dblock import DatabaseInUse, DatabaseLock
from dr_notebook.sandbox.settings import (
    FAULT_KINDS,
    ROLES,
    BehaviourSettings,
    BuildSettings,
    ServerSettings,
    apps_dir_for,
    default_db_path,
    envs_dir_for,
)
from dr_notebook.sandbox.signals import STOPPER, Stop, Stopper

if TYPE_CHECKING:
    from dr_notebook.sandbox.store.database import Store

TOKENS_ENV = "DR_NOTEBOOK_SANDBOX_TOKENS"
DEFAULT_HEADER_TIMEOUT_S = 10
DEFAULT_APP_BODY_MB = 256


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The sandbox's options (shared by ``dr-notebook sandbox`` and ``python -m``)."""
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=8080, help="port (default 8080; 0 picks a free one)"
    )
    parser.add_argument(
        "--db", type=Path, default=None, help=f"SQLite file (default {default_db_path()})"
    )
    parser.add_argument(
        "--token",
        action="append",
        default=[],
        metavar="ROLE=TOKEN",
        help=f"accept TOKEN for ROLE ({', '.join(ROLES)}); repeatable. Every local user sees "
        f"command lines (ps): prefer --token-file or ${TOKENS_ENV} (comma-separated). "
        "Default: one generated admin token.",
    )
    parser.add_argument(
        "--token-file",
        type=Path,
        default=None,
        metavar="FILE",
        help="read ROLE=TOKEN lines from FILE, which only its owner may read (chmod 600)",
    )
    parser.add_argument("--no-demo", action="store_true", help="do not load the demo catalogue")
    parser.add_argument(
        "--generate",
        type=_non_negative,
        default=0,
        metavar="N",
        help="add N synthetic templates at start",
    )
    _add_behaviour_arguments(parser)
    _add_run_arguments(parser)


def _add_behaviour_arguments(parser: argparse.ArgumentParser) -> None:
    """Latency, async sources and faults (the behaviour the control API changes too)."""
    parser.add_argument(
        "--latency-ms",
        type=_non_negative,
        default=0,
        metavar="N",
        help="delay every API response by N ms",
    )
    parser.add_argument(
        "--async-sources",
        action="store_true",
        help="create application sources asynchronously (202 + polling)",
    )
    parser.add_argument(
        "--async-delay-ms",
        type=_non_negative,
        default=300,
        metavar="N",
        help="how long an async source creation runs (default 300)",
    )
    parser.add_argument(
        "--fault-rate",
        type=_fraction,
        default=0.0,
        metavar="F",
        help="answer this fraction of API requests with 503 or 429",
    )
    parser.add_argument(
        "--fault-kind",
        choices=FAULT_KINDS,
        default="mixed",
        help="which faults to inject (default mixed)",
    )


def _add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """How applications run (``--run-apps`` and what goes with it), and the seed."""
    parser.add_argument(
        "--run-apps",
        action="store_true",
        help="really run applications: their start-app.sh runs on this machine, with your "
        "user's rights (default: applications are simulated)",
    )
    parser.add_argument(
        "--app-start-timeout",
        type=_positive,
        default=60,
        metavar="S",
        help="seconds an application may take to answer HTTP before it fails (default 60)",
    )
    parser.add_argument(
        "--app-delay-ms",
        type=_non_negative,
        default=300,
        metavar="N",
        help="how long a simulated application takes to reach running (default 300)",
    )
    parser.add_argument(
        "--public-url",
        default=None,
        metavar="URL",
        help="the sandbox's address as clients reach it (default http://HOST:PORT); "
        "applications' DATAROBOT_ENDPOINT and applicationUrl are built from it",
    )
    parser.add_argument(
        "--offline",
        action="store_true",
        help="with --run-apps: install nothing; check requirements.txt against the sandbox's "
        "own packages (also what happens when no package index answers)",
    )
    parser.add_argument(
        "--isolation",
        choices=("namespace", "port"),
        default=os.environ.get("DR_NOTEBOOK_ISOLATION", "").strip().lower() or "namespace",
        help="with --run-apps: 'namespace' gives each application a network of its own on port "
        "8080 where Linux allows it (default); 'port' runs them on a free port of this "
        "machine's 127.0.0.1 (env DR_NOTEBOOK_ISOLATION)",
    )
    parser.add_argument(
        "--envs-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="with --run-apps: where applications' environments are built and kept; sandboxes "
        "may share one (default: env DR_NOTEBOOK_ENVS_DIR, else next to the database, <db>-envs)",
    )
    parser.add_argument(
        "--app-origins",
        action="store_true",
        help="serve each application on an origin of its own, http://<id>.localhost:PORT/, "
        "so that applications share no cookies, storage or service workers",
    )
    parser.add_argument("--seed", type=int, default=None, help="seed for faults and --generate")
    _add_http_arguments(parser)


def _add_http_arguments(parser: argparse.ArgumentParser) -> None:
    """Limits of the HTTP server itself."""
    parser.add_argument(
        "--header-timeout",
        type=_positive,
        default=DEFAULT_HEADER_TIMEOUT_S,
        metavar="S",
        help="close a connection whose request line and headers are not complete within S "
        f"seconds (default {DEFAULT_HEADER_TIMEOUT_S})",
    )
    parser.add_argument(
        "--max-app-body-mb",
        type=_positive,
        default=DEFAULT_APP_BODY_MB,
        metavar="N",
        help="largest request body forwarded to an application, in MiB; larger ones get 413 "
        f"(default {DEFAULT_APP_BODY_MB}; the API's own limit is fixed)",
    )


def settings_from_args(args: argparse.Namespace) -> ServerSettings:
    """Turn parsed options into server settings (tokens resolved later, with the db)."""
    if args.token:
        print(
            "dr-notebook sandbox: warning: --token shows the token to every local user (ps); "
            f"use --token-file FILE (chmod 600) or ${TOKENS_ENV}.",
            file=sys.stderr,
            flush=True,
        )
    specs = [*_split_env(os.environ.get(TOKENS_ENV, "")), *args.token]
    if args.token_file is not None:
        specs += read_token_file(args.token_file)
    tokens: dict[str, str] = {}
    for spec in specs:
        role, _, token = spec.partition("=")
        role, token = role.strip().lower(), token.strip()
        if role not in ROLES or not token:
            raise SystemExit(f"--token expects ROLE=TOKEN with ROLE in {', '.join(ROLES)}")
        tokens[token] = role
    return ServerSettings(
        host=args.host,
        port=args.port,
        db_path=args.db or default_db_path(),
        tokens=tokens,
        demo=not args.no_demo,
        generate=args.generate,
        seed=args.seed,
        behaviour=BehaviourSettings(
            latency_ms=args.latency_ms,
            fault_rate=args.fault_rate,
            fault_kind=args.fault_kind,
            async_sources=args.async_sources,
            async_delay_ms=args.async_delay_ms,
            app_start_delay_ms=args.app_delay_ms,
            app_start_timeout_s=args.app_start_timeout,
        ),
        run_apps=args.run_apps,
        public_url=_public_url(args.public_url),
        builds=BuildSettings(
            envs_dir=args.envs_dir, offline=args.offline, isolation=args.isolation
        ),
        header_timeout_s=args.header_timeout,
        app_body_limit=args.max_app_body_mb * 1024 * 1024,
        app_origins=args.app_origins,
    )


def read_token_file(path: Path) -> list[str]:
    """The ``ROLE=TOKEN`` lines of a token file that only its owner can read (else exit)."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise SystemExit(f"dr-notebook sandbox: --token-file {path} is not a file")
        if info.st_mode & 0o077:
            raise SystemExit(
                f"dr-notebook sandbox: --token-file {path} is readable by others "
                f"(mode {stat.S_IMODE(info.st_mode):o}); run: chmod 600 {shlex.quote(str(path))}"
            )
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        message = f"dr-notebook sandbox: cannot read --token-file {path}: {exc.strerror}"
        raise SystemExit(message) from None
    lines = [line.strip() for line in text.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def serve(settings: ServerSettings) -> int:
    """Prepare the database, bind the socket, print the endpoint and token, serve until Ctrl-C.

    SIGINT and SIGTERM are handled from the first line on: before the server runs they stop
    the start-up at once; once it runs they ask it to stop (a second one forces it).
    """
    stopper = STOPPER
    previous = stopper.install()
    try:
        return _serve(settings, stopper)
    except (KeyboardInterrupt, Exception, Stop):
        if not stopper.count:
            raise
        # A signal during start-up: whatever it interrupted (a library may wrap the exception
        # it raised into one of its own), the sandbox stops.
        print("dr-notebook sandbox: stopped.", file=sys.stderr, flush=True)
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _serve(settings: ServerSettings, stopper: Stopper) -> int:
    import uvicorn

    from dr_notebook.sandbox.app import HttpSettings, create_app
    from dr_notebook.sandbox.catalogue.loader import generate, load_catalogue
    from dr_notebook.sandbox.protocol import with_header_timeout
    from dr_notebook.sandbox.store.database import Store

    if settings.run_apps and os.name != "posix":
        raise SystemExit("--run-apps needs a POSIX system (bash and process groups)")
    lock = DatabaseLock(settings.db_path)
    try:
        lock.acquire()
    except DatabaseInUse as exc:
        print(f"dr-notebook sandbox: {exc}", file=sys.stderr, flush=True)
        return 1
    store = None
    app = None
    try:
        store = Store(settings.db_path)
        if store.get_meta("initialized") is None:
            if settings.demo and store.count_templates() == 0:
                store.insert_templates(load_catalogue())
            store.set_meta("initialized", "1")
        if settings.generate:
            store.insert_templates(generate(settings.generate, settings.seed))
        tokens = settings.tokens or {_default_admin_token(store): "admin"}
        apps_dir = apps_dir_for(settings.db_path) if settings.run_apps else None
        sock = _bind(settings.host, settings.port)
        host, port = sock.getsockname()[:2]
        lock.describe(port)
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        shown = f"[{shown}]" if ":" in shown else shown
        public_url = (settings.public_url or f"http://{shown}:{port}").rstrip("/")
        builds = settings.builds
        if builds.envs_dir is None:
            builds = dataclasses.replace(builds, envs_dir=envs_dir_for(settings.db_path))
        app = create_app(
            store,
            tokens,
            settings.behaviour,
            settings.seed,
            apps_dir,
            public_url,
            builds,
            http=HttpSettings(settings.app_body_limit, settings.app_origins),
        )
        admin = next((t for t, r in tokens.items() if r == "admin"), next(iter(tokens)))
        # Lines a user copies into a shell, so they are complete shell statements.
        print(f"export DATAROBOT_ENDPOINT={public_url}/api/v2", flush=True)
        print(f"export DATAROBOT_API_TOKEN={shlex.quote(admin)}", flush=True)
        roles = ", ".join(sorted(set(tokens.values())))
        print(
            f"dr-notebook sandbox: {store.count_templates()} templates in {settings.db_path} "
            f"(roles: {roles}). Applications: "
            f"{'run on this machine (--run-apps)' if apps_dir else 'simulated'}. "
            "Press Ctrl-C to stop.",
            file=sys.stderr,
            flush=True,
        )
        if apps_dir is not None:
            print(f"dr-notebook sandbox: {app.state.network_note}", file=sys.stderr, flush=True)
        # Idle keep-alive connections stay open longer than clients' pools keep them, so a
        # client never sends on a connection the server is closing (a reset, not an answer).
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_keep_alive=75,
            ws="websockets-sansio",  # applications' websockets, through the proxy
            http=with_header_timeout(settings.header_timeout_s),
        )
        server = _quiet_server(uvicorn.Server)(config)
        stopper.server = server
        # A signal some library swallowed during start-up still stops the sandbox here.
        server.should_exit = stopper.count > 0
        try:
            server.run(sockets=[sock])
        finally:
            sock.close()  # the stopper keeps the server: a later signal only sets flags
    finally:
        if app is not None:
            app.state.applications.stop_all()
        if store is not None:
            store.close()
        lock.release()
    print("dr-notebook sandbox: stopped.", file=sys.stderr, flush=True)
    return 0


def _quiet_server(base: type[Any]) -> type[Any]:
    """uvicorn's Server, leaving signal handling to the sandbox (no handlers of its own)."""

    class Server(base):  # type: ignore[misc, valid-type]
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    return Server


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m dr_notebook.sandbox [options]``."""
    parser = argparse.ArgumentParser(
        prog="python -m dr_notebook.sandbox",
        description="A local DataRobot-compatible API server for custom templates.",
    )
    add_arguments(parser)
    return serve(settings_from_args(parser.parse_args(argv)))


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted sockets only when the
    # listening socket says TCP, and without it every response waits ~40 ms (Nagle + delayed ACK).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise SystemExit(f"cannot listen on {host}:{port} ({exc.strerror}); try --port 0") from None
    sock.listen(2048)
    return sock


def _default_admin_token(store: Store) -> str:
    """The generated admin token, kept in the database so it survives restarts."""
    token = store.get_meta("admin_token")
    if token is None:
        token = secrets.token_urlsafe(24)
        store.set_meta("admin_token", token)
    return token


def _public_url(value: str | None) -> str | None:
    if value is None:
        return None
    parsed = urllib.parse.urlsplit(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc or parsed.query:
        raise SystemExit("--public-url expects http(s)://host[:port][/path]")
    return value.rstrip("/")


def _split_env(value: str) -> list[str]:
    return [part for part in value.split(",") if part.strip()]


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value
