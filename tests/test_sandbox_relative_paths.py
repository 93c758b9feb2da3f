"""The README's sandbox as a newcomer starts it: a relative database path (the demo's
``.sandbox/demo.db``), environments next to it, and an application whose requirement only its
own environment has. Every path the sandbox derives is absolute, so the app finds its tools."""

from __future__ import annotations

import importlib.util
import os
import uuid
from pathlib import Path

import pytest
import requests

import dr_notebook as drn
from dr_notebook.sandbox.settings import ENVS_DIR_VARIABLE, ServerSettings
from dr_notebook.sandbox.testing import processes_in, start_sandbox

pytestmark = [pytest.mark.slow, pytest.mark.skipif(os.name != "posix", reason="POSIX only")]


def test_settings_make_every_path_absolute_once(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(ENVS_DIR_VARIABLE, raising=False)
    settings = ServerSettings(db_path=Path(".sandbox/demo.db"))
    assert settings.db_path == tmp_path / ".sandbox" / "demo.db"
    from dr_notebook.sandbox.settings import apps_dir_for, envs_dir_for

    assert envs_dir_for(Path(".sandbox/demo.db")) == tmp_path / ".sandbox" / "demo-envs"
    assert apps_dir_for(Path(".sandbox/demo.db")) == tmp_path / ".sandbox" / "demo-apps"


# An app whose one requirement (a small pure-Python package) the sandbox's own Python lacks: it
# serves its page only from the environment built for it beside the relative database.
APP = {
    "requirements.txt": "humanize==4.12.3\n",
    "start-app.sh": "#!/usr/bin/env bash\nexec python app.py\n",
    "app.py": """import http.server, humanize, os

class Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"<h1>{humanize.naturalsize(3_000_000)} from its own environment</h1>".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(body)

port = int(os.environ.get("PORT", "8080"))
http.server.ThreadingHTTPServer(("0.0.0.0", port), Page).serve_forever()
""",
}


def test_a_relative_database_runs_an_app_whose_requirement_only_its_environment_has(
    tmp_path: Path,
) -> None:
    # control: the sandbox's own Python cannot serve this app; only the built environment can
    assert importlib.util.find_spec("humanize") is None
    database = Path(".sandbox") / "demo.db"
    with start_sandbox(
        run_apps=True, db_path=database, cwd=tmp_path, environ={ENVS_DIR_VARIABLE: None}
    ) as sb:
        client = drn.Client(sb.endpoint, sb.token, progress=False)
        source = client.app_sources.create(f"relative-{uuid.uuid4().hex[:6]}")
        client.app_sources.new_version(source, APP)
        app = client.applications.create(source, timeout=300)
        page = requests.get(app.application_url or "", timeout=30)
        assert page.status_code == 200 and "3.0 MB from its own environment" in page.text
        assert (tmp_path / ".sandbox" / "demo-envs").is_dir()  # beside the relative database
        client.applications.delete(app)
    assert processes_in(tmp_path) == []
