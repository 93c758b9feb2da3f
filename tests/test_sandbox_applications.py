"""Custom applications over HTTP in the default, simulated mode: endpoints, errors, roles."""

from __future__ import annotations

import time

import pytest

from dr_notebook.sandbox.testing import start_sandbox

START = b'#!/usr/bin/env bash\nexec python -m http.server "$PORT"\n'
APP_FIELDS = {
    "id", "name", "envVersionId", "customApplicationSourceId", "customApplicationSourceVersionId",
    "lrsId", "status", "userId", "orgId", "createdBy", "creatorFirstName", "creatorLastName",
    "creatorUserhash", "permissions", "createdAt", "updatedAt", "expiresAt", "applicationUrl",
    "externalAccessEnabled", "allowAutoStopping", "externalAccessRecipients", "resources",
    "requiredKeyScopeLevel", "buildError",
}  # fmt: skip


@pytest.fixture(scope="module")
def sb():
    with start_sandbox(demo=False, app_start_delay_ms=200) as server:
        yield server


def source_with(sb, files, name="Runnable"):
    source = sb.api("POST", "customApplicationSources/", json={"name": name}).json()
    vid = source["latestVersion"]["id"]
    response = sb.api(
        "PATCH", f"customApplicationSources/{source['id']}/versions/{vid}/",
        files=[("file", (p, d)) for p, d in files], data=[("filePath", p) for p, _ in files],
    )  # fmt: skip
    assert response.status_code == 200, response.text
    return source["id"], vid


def create(sb, role="admin", **body):
    return sb.api("POST", "customApplications/", role=role, json=body, allow_redirects=False)


def wait_for(sb, app_id, status, timeout=10.0):
    deadline = time.monotonic() + timeout
    app = None
    while time.monotonic() < deadline:
        app = sb.api("GET", f"customApplications/{app_id}/").json()
        if app["status"] == status:
            return app
        time.sleep(0.05)
    raise AssertionError(f"{app_id} never reached {status}: {app}")


def test_create_202_status_303_then_running_after_the_delay(sb):
    sid, vid = source_with(sb, [("start-app.sh", START), ("index.html", b"<b>x</b>")])
    response = create(sb, name="Simulated", applicationSourceId=sid)
    assert response.status_code == 202, response.text
    location = response.headers["Location"]
    assert location.startswith(f"{sb.endpoint}/status/")
    body = response.json()
    assert set(body) == APP_FIELDS and body["status"] == "building"
    assert body["customApplicationSourceVersionId"] == vid
    assert body["applicationUrl"] == f"{sb.base_url}/custom_applications/{body['id']}/"
    pending = sb.api("GET", location, allow_redirects=False)  # the job ends when it serves
    assert pending.status_code == 200 and pending.json()["status"] == "RUNNING"
    app = wait_for(sb, body["id"], "running")
    done = sb.api("GET", location, allow_redirects=False)
    assert done.status_code == 303 and done.json()["status"] == "COMPLETED"
    assert done.headers["Location"] == f"{sb.endpoint}/customApplications/{body['id']}/"
    assert app["resources"]["replicas"] == 1 and isinstance(app["resources"]["cpuRequest"], float)
    page = sb.api("GET", app["applicationUrl"], role=None)
    assert page.status_code == 200 and "simulated" in page.text and "index.html" in page.text
    assert "--run-apps" in page.text
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    logs = sb.api("GET", f"customApplications/{body['id']}/logs/").json()
    assert set(logs) == {"logs", "buildLog", "buildStatus", "buildError"}
    assert logs["buildStatus"] == "completed" and "--run-apps" in logs["buildLog"]


def test_the_page_escapes_names_and_file_paths(sb):
    sid, _ = source_with(sb, [("start-app.sh", START), ("<img src=x onerror=alert(1)>.html", b"")])
    app = create(sb, name="<script>alert(1)</script>", applicationSourceId=sid).json()
    wait_for(sb, app["id"], "running")
    page = sb.api("GET", app["applicationUrl"], role=None).text
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    assert "<img" not in page and "&lt;img src=x" in page


@pytest.mark.parametrize(
    ("files", "words"),
    [
        ([("app.py", b"print(1)")], "no start-app.sh"),
        ([("start-app.sh", b"python app.py\n")], "#!"),
        ([("sub/start-app.sh", START)], "no start-app.sh"),
    ],
)
def test_a_version_without_a_usable_start_script_is_422(sb, files, words):
    sid, vid = source_with(sb, files)
    for body in ({"applicationSourceId": sid}, {"applicationSourceVersionId": vid}):
        response = create(sb, name="x", **body)
        assert response.status_code == 422 and words in response.json()["message"]
    assert (
        sb.api("GET", f"customApplicationSources/{sid}/versions/{vid}/").json()["isFrozen"] is False
    )


def test_unknown_sources_versions_and_apps_are_404(sb):
    assert create(sb, name="x", applicationSourceId="0" * 24).status_code == 404
    assert create(sb, name="x", applicationSourceVersionId="0" * 24).status_code == 404
    for method in ("GET", "PATCH", "DELETE"):
        assert (
            sb.api(method, f"customApplications/{'0' * 24}/", json={"name": "n"}).status_code == 404
        )
    for tail in ("logs/", "history/"):
        assert sb.api("GET", f"customApplications/{'0' * 24}/{tail}").status_code == 404
    assert (
        sb.api("GET", f"{sb.base_url}/custom_applications/{'0' * 24}/", role=None).status_code
        == 404
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x"}, "applicationSourceId"),
        ({"name": "x", "environmentId": "e"}, "environmentId"),
        (
            {"name": "x", "applicationSourceId": "a", "applicationSourceVersionId": "b"},
            "applicationSourceId",
        ),
        ({"name": " ", "applicationSourceId": "a"}, "name"),
        ({"name": "x", "applicationSourceId": "a", "resources": {"replicas": "2"}}, "resources"),
    ],
)
def test_bad_creation_bodies_are_422_naming_the_field(sb, body, field):
    response = create(sb, **body)
    assert response.status_code == 422 and field in response.json()["errors"]


def test_list_filters_and_paginates(sb):
    sid, _ = source_with(sb, [("start-app.sh", START)], name="Listed")
    ids = [create(sb, name=f"listed-{n}", applicationSourceId=sid).json()["id"] for n in range(3)]
    page = sb.api("GET", f"customApplications/?customApplicationSourceId={sid}&limit=2").json()
    assert page["totalCount"] == 3 and page["count"] == 2 and page["next"]
    assert [a["id"] for a in page["data"]] == ids[:2]
    assert sb.api("GET", "customApplications/?name=LISTED-1").json()["totalCount"] == 1
    wait_for(sb, ids[-1], "running")  # the last created is the last due
    running = sb.api(
        "GET", f"customApplications/?status=running&customApplicationSourceId={sid}"
    ).json()
    assert running["totalCount"] == 3
    assert sb.api("GET", "customApplications/?status=nope").json()["totalCount"] == 0
    assert sb.api("GET", "customApplications/?orderBy=bogus").status_code == 422
    check = sb.api("GET", "customApplications/nameCheck/?name=listed-2").json()
    assert check == {"inUse": True}
    assert sb.api("GET", "customApplications/nameCheck/?name=listed-9").json() == {"inUse": False}
    assert sb.api("GET", "customApplications/nameCheck/").status_code == 422


def test_patch_settings_and_restart_on_a_new_version_keeps_id_and_url(sb):
    sid, v1 = source_with(sb, [("start-app.sh", START), ("one.txt", b"1")])
    app = create(sb, name="patched", applicationSourceId=sid).json()
    url = f"customApplications/{app['id']}/"
    changed = sb.api("PATCH", url, json={
        "name": "renamed", "externalAccessEnabled": True,
        "externalAccessRecipients": ["a@example.com"], "allowAutoStopping": True,
    }).json()  # fmt: skip
    assert (changed["name"], changed["externalAccessEnabled"], changed["allowAutoStopping"]) == (
        "renamed",
        True,
        True,
    )
    assert changed["externalAccessRecipients"] == ["a@example.com"]
    v2 = sb.api(
        "POST", f"customApplicationSources/{sid}/versions/", json={"baseVersion": v1}
    ).json()
    restarted = sb.api("PATCH", url, json={"customApplicationSourceVersionId": v2["id"]}).json()
    assert restarted["customApplicationSourceVersionId"] == v2["id"]
    assert restarted["status"] == "building"
    assert (restarted["id"], restarted["applicationUrl"]) == (app["id"], app["applicationUrl"])
    assert sb.api("GET", f"customApplicationSources/{sid}/versions/{v2['id']}/").json()["isFrozen"]
    history = sb.api("GET", f"{url}history/").json()
    assert [h["customApplicationSourceVersionId"] for h in history["data"]] == [v2["id"], v1]
    for bad in (
        {"externalAccessEnabled": "yes"},
        {"externalAccessRecipients": "a"},
        {},
        {"name": ""},
    ):
        assert sb.api("PATCH", url, json=bad).status_code == 422
    assert (
        sb.api("PATCH", url, json={"customApplicationSourceVersionId": "0" * 24}).status_code == 404
    )


def test_stop_and_start(sb):
    sid, _ = source_with(sb, [("start-app.sh", START)])
    app = create(sb, name="stopper", applicationSourceId=sid).json()
    stopped = sb.api("POST", f"customApplications/{app['id']}/stop/").json()
    assert stopped["status"] == "stopped"
    time.sleep(0.3)  # the simulated start delay has passed: a stopped app stays stopped
    assert sb.api("GET", f"customApplications/{app['id']}/").json()["status"] == "stopped"
    sb.api("POST", f"customApplications/{app['id']}/start/")
    wait_for(sb, app["id"], "running")


def test_roles(sb):
    sid, _ = source_with(sb, [("start-app.sh", START)])
    assert create(sb, role="viewer", name="v", applicationSourceId=sid).status_code == 403
    made = create(sb, role="user", name="by-user", applicationSourceId=sid)
    assert made.status_code == 202 and "CAN_DELETE" in made.json()["permissions"]  # its owner
    url = f"customApplications/{made.json()['id']}/"
    assert sb.api("GET", url, role="viewer").json()["permissions"] == ["CAN_VIEW"]
    assert sb.api("GET", f"{url}logs/", role="viewer").status_code == 403
    assert sb.api("PATCH", url, role="viewer", json={"name": "n"}).status_code == 403
    admins = create(sb, name="by-admin", applicationSourceId=sid).json()
    assert sb.api("DELETE", f"customApplications/{admins['id']}/", role="user").status_code == 403
    assert sb.api("POST", f"{url}stop/", role="viewer").status_code == 403
    assert sb.api("GET", url, role=None).status_code == 401
    assert sb.api("DELETE", url, role="user").status_code == 204
    assert sb.api("GET", url).status_code == 404
    assert sb.api("DELETE", f"customApplications/{admins['id']}/").status_code == 204


def test_applications_show_stopped_after_a_restart(tmp_path):
    with start_sandbox(demo=False, db_path=tmp_path / "r.db", app_start_delay_ms=0) as server:
        sid, _ = source_with(server, [("start-app.sh", START)])
        app = create(server, name="survivor", applicationSourceId=sid).json()
        wait_for(server, app["id"], "running")
        server.restart()
        assert server.api("GET", f"customApplications/{app['id']}/").json()["status"] == "stopped"
        server.api("POST", f"customApplications/{app['id']}/start/")
        wait_for(server, app["id"], "running")
