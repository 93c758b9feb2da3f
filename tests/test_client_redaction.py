"""The client's token never shows in what the client builds from server text: an application
whose stored fields hold the token (as a leaking app's output would) is read through the
sandbox, and every face is checked: model fields, repr, card HTML, frame, logs, error text.
Positive controls: the raw API answer holds the token; a file's content is kept byte for byte."""

from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path

import pytest

import dr_notebook as drn
from dr_notebook.errors import ApplicationFailedError
from dr_notebook.sandbox.testing import SandboxServer


def leak_into(sandbox: SandboxServer, app_id: str, token: str) -> None:
    """Store the token in the application's name and build error, and mark it failed."""
    db = sqlite3.connect(sandbox.db_path, isolation_level=None)
    try:
        (body,) = db.execute("SELECT body FROM applications WHERE id = ?", (app_id,)).fetchone()
        stored = json.loads(body)
        stored["buildError"] = f"start-app.sh: exported DATAROBOT_API_TOKEN={token}\nexit 1"
        db.execute(
            "UPDATE applications SET status = 'failed', name = ?, body = ? WHERE id = ?",
            (f"Leaky {token}", json.dumps(stored), app_id),
        )
    finally:
        db.close()


def test_no_face_of_a_leaking_application_shows_the_token(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    token = sandbox.token
    client = drn.Client(sandbox.endpoint, token, progress=False)
    app = client.launch("Flask App Base", name=f"Leaky {uuid.uuid4().hex[:6]}", wait=False)
    try:
        leak_into(sandbox, app.id, token)
        raw = sandbox.api("GET", f"customApplications/{app.id}/").text
        assert token in raw  # positive control: the server sends it

        got = client.applications.get(app.id)
        listed = next(a for a in client.applications.list() if a.id == app.id)
        logs = client.applications.logs(app.id)
        frame = client.applications.frame()
        with pytest.raises(ApplicationFailedError) as failed:
            client.applications.wait(app.id, timeout=30)
        faces = {
            "fields": f"{got.name} {got.build_error} {listed.name} {listed.build_error}",
            "to_api": json.dumps(got.to_api(), default=str),
            "repr": f"{got!r} {listed!r} {logs!r}",
            "card": got._repr_html_() or "",
            "frame": frame.to_string() + frame.to_html(),
            "logs": f"{logs.build_error} {logs.lines}",
            "error": str(failed.value),
        }
        for face, text in faces.items():
            assert token not in text, face
        assert "DATAROBOT_API_TOKEN=***" in str(got.build_error)
        assert "DATAROBOT_API_TOKEN=***" in faces["card"]
        assert "DATAROBOT_API_TOKEN=***" in faces["error"]
    finally:
        client.applications.delete(app.id)
    # A file's content is the user's own: downloaded as it is, token included.
    version = client.app_sources.new_version(app.source_id or "", {"notes.txt": f"token {token}\n"})
    client.app_sources.download(app.source_id or "", tmp_path, version=version)
    assert (tmp_path / "notes.txt").read_text() == f"token {token}\n"
