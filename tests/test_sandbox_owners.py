"""What belongs to an application's owner, attacked over HTTP with the three roles, with the
sandbox as it runs here (root in CI) and as nobody: credential values of a version (never in
another user's application, never freezing the version for its owner), application output
(``buildError`` lines for the owner and admins only) and redaction before any cut. Each
attack beside its positive control."""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
from collections.abc import Iterator

import pytest
import requests
from unprivileged import sandbox_as_nobody

from dr_notebook.sandbox.runtime.local import BUILD_LINE_CHARS
from dr_notebook.sandbox.service.applications import HIDDEN_ERROR
from dr_notebook.sandbox.testing import SandboxServer, processes_in, start_sandbox

ROOT = os.geteuid() == 0
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux guarantees"),
]

METADATA = b"""\
runtimeParameterDefinitions:
  - fieldName: API_KEY
    type: credential
    credentialType: api_token
"""
# The app's page shows what it was given (the proxy passes pages as they are: nothing
# redacts them), so a credential that reached it is read back whole.
SHOWS_CREDENTIAL = b"""#!/usr/bin/env bash
mkdir -p www && printf 'cred=[%s]' "$MLOPS_RUNTIME_PARAM_API_KEY" > www/index.html
exec python -m http.server --bind 127.0.0.1 --directory www "$PORT"
"""


NOBODY = pytest.param(
    "nobody", marks=pytest.mark.skipif(not ROOT, reason="starts the sandbox as nobody: needs root")
)
#: The sandbox as it runs here (root in CI), then as nobody (offline: no environment of its
#: own to build, the apps run on the sandbox's Python).
BOTH = pytest.mark.parametrize("sb", ["as-is", NOBODY], indirect=True)


@pytest.fixture(scope="module")
def sb(request: pytest.FixtureRequest) -> Iterator[SandboxServer]:
    """A sandbox running apps, as the tests' user or (``"nobody"``) as nobody."""
    if request.param == "nobody":
        starter = sandbox_as_nobody(demo=False, run_apps=True, offline=True)
    else:
        starter = start_sandbox(demo=False, run_apps=True)
    with starter as server:
        yield server
        apps_dir = server.apps_dir
    assert processes_in(apps_dir) == []


def source_with(sb, files, role="admin", name="Owned"):
    source = sb.api("POST", "customApplicationSources/", role=role, json={"name": name}).json()
    version = source["latestVersion"]["id"]
    assert change_version(sb, source["id"], version, role, files=files).status_code == 200
    return source["id"], version


def change_version(sb, source_id, version_id, role="admin", files=(), values=None):
    url = f"customApplicationSources/{source_id}/versions/{version_id}/"
    if values is not None:
        return sb.api("PATCH", url, role=role, json={"runtimeParameterValues": values})
    return sb.api(
        "PATCH", url, role=role,
        files=[("file", (p, d)) for p, d in files], data=[("filePath", p) for p, _ in files],
    )  # fmt: skip


def credential(value):
    return [{"fieldName": "API_KEY", "type": "credential", "value": value}]


def create(sb, version_id, role):
    return sb.api(
        "POST", "customApplications/", role=role, allow_redirects=False,
        json={"name": f"{role}'s", "applicationSourceVersionId": version_id},
    )  # fmt: skip


def wait_until(sb, app_id, timeout=90.0):
    deadline, app = time.monotonic() + timeout, {}
    while time.monotonic() < deadline:
        app = sb.api("GET", f"customApplications/{app_id}/").json()
        if app["status"] in ("running", "failed"):
            return app
        time.sleep(0.1)
    raise AssertionError(f"{app_id} stayed {app.get('status')}")


def page(sb, app_id):
    return requests.get(f"{sb.base_url}/custom_applications/{app_id}/", timeout=10).text


def delete(sb, app_id):
    assert sb.api("DELETE", f"customApplications/{app_id}/").status_code == 204


# -- credentials -------------------------------------------------------------------------------
@BOTH
def test_a_users_app_never_gets_the_admins_credential(sb):
    secret = f"sk-admin-{secrets.token_hex(12)}"
    files = [("metadata.yaml", METADATA), ("start-app.sh", SHOWS_CREDENTIAL)]
    source_id, version = source_with(sb, files)
    assert change_version(sb, source_id, version, values=credential(secret)).status_code == 200
    # the attack: the user builds the admin's version (by version, and by source)
    refused = create(sb, version, "user")
    assert refused.status_code == 403, refused.text
    assert "API_KEY" in refused.json()["message"] and "owner" in refused.json()["message"]
    by_source = sb.api(
        "POST", "customApplications/", role="user", json={"applicationSourceId": source_id}
    )
    assert by_source.status_code == 403
    # ...and moves an app of its own onto it
    _, own_version = source_with(sb, files, role="user")
    mine = create(sb, own_version, "user").json()["id"]
    assert wait_until(sb, mine)["status"] == "running"
    moved = sb.api(
        "PATCH", f"customApplications/{mine}/", role="user",
        json={"customApplicationSourceVersionId": version},
    )  # fmt: skip
    assert moved.status_code == 403, moved.text
    assert wait_until(sb, mine)["customApplicationSourceVersionId"] == own_version
    assert page(sb, mine) == "cred=[]"  # the running app has nothing of it
    # the admin's version stays the admin's to change
    assert change_version(sb, source_id, version, values=credential(secret)).status_code == 200
    # positive control: the admin's own app gets the value (and freezes the version)
    admins = create(sb, version, "admin")
    assert admins.status_code == 202, admins.text
    assert wait_until(sb, admins.json()["id"])["status"] == "running"
    given = json.loads(page(sb, admins.json()["id"]).removeprefix("cred=[").removesuffix("]"))
    assert given["payload"]["apiToken"] == secret
    frozen = change_version(sb, source_id, version, values=credential("other"))
    assert frozen.status_code == 422 and "frozen" in frozen.text
    for app_id in (mine, admins.json()["id"]):
        delete(sb, app_id)


@BOTH
def test_building_from_someone_elses_version_never_freezes_it_for_them(sb):
    files = [("metadata.yaml", METADATA), ("start-app.sh", SHOWS_CREDENTIAL)]
    source_id, version = source_with(sb, files)  # no credential value yet
    users = create(sb, version, "user")
    assert users.status_code == 202, users.text  # nothing of the admin's in it: allowed
    app_id = users.json()["id"]
    assert wait_until(sb, app_id)["status"] == "running"
    # the admin still changes its version: files, and a credential value now
    assert change_version(sb, source_id, version, files=[("x.txt", b"x")]).status_code == 200
    secret = f"sk-admin-{secrets.token_hex(12)}"
    assert change_version(sb, source_id, version, values=credential(secret)).status_code == 200
    # which the user's app never gets: starting it again on that version is refused
    for role in ("user", "admin"):
        again = sb.api("POST", f"customApplications/{app_id}/start/", role=role)
        assert again.status_code == 403, again.text
    assert page(sb, app_id) == "cred=[]"
    # positive control: the user's own version freezes when the user builds it
    own_source, own_version = source_with(sb, files, role="user")
    own = create(sb, own_version, "user").json()["id"]
    frozen = change_version(sb, own_source, own_version, "user", files=[("x.txt", b"x")])
    assert frozen.status_code == 422 and "frozen" in frozen.text
    for each in (app_id, own):
        delete(sb, each)


# -- output ------------------------------------------------------------------------------------
def failing(marker: str) -> bytes:
    return (
        f"#!/usr/bin/env bash\necho 'Traceback (most recent call last):'\n"
        f"echo '  File x'\necho 'ValueError: {marker}'\nexit 3\n"
    ).encode()


def status_of(sb, created, role):
    location = created.headers["Location"].split("/api/v2/", 1)[1]
    return sb.api("GET", location, role=role, allow_redirects=False).json()


@BOTH
@pytest.mark.parametrize("owner", ["admin", "user"])
def test_output_lines_reach_the_owner_and_admins_only(sb, owner):
    marker = f"private-output-{secrets.token_hex(6)}"
    _, version = source_with(sb, [("start-app.sh", failing(marker))], role=owner)
    created = create(sb, version, owner)
    app_id = created.json()["id"]
    assert wait_until(sb, app_id)["status"] == "failed"
    url = f"customApplications/{app_id}/"
    others = [r for r in ("admin", "user", "viewer") if r not in (owner, "admin")]
    for role in others:  # the attack: another user, a viewer
        app = sb.api("GET", url, role=role).json()
        assert app["status"] == "failed" and app["buildError"] == HIDDEN_ERROR
        listed = sb.api("GET", "customApplications/", role=role).text
        assert marker not in listed and marker not in status_of(sb, created, role)["message"]
        assert status_of(sb, created, role)["status"] == "ERROR"
        assert sb.api("GET", f"{url}logs/", role=role).status_code == 403
        assert marker not in page(sb, app_id)
    for role in {owner, "admin"}:  # positive control: the owner and admins read the lines
        assert marker in sb.api("GET", url, role=role).json()["buildError"]
        assert marker in status_of(sb, created, role)["message"]
        assert marker in str(sb.api("GET", f"{url}logs/", role=role).json()["logs"])
    delete(sb, app_id)


# -- redaction before any cut ------------------------------------------------------------------
# Redaction is string work, the same whoever the sandbox runs as; an offline sandbox never runs
# build-app.sh, so this attack runs on the sandbox as it is here.
@pytest.mark.parametrize("sb", ["as-is"], indirect=True)
def test_a_token_straddling_the_build_logs_cut_leaves_no_part_of_it(sb):
    # A line of build-app.sh's output is cut at BUILD_LINE_CHARS: each token starts just
    # before the cut, so that a cut before redaction keeps all of it but its last character.
    lines = [
        f"print({'x' * (BUILD_LINE_CHARS - len(token) + 1)!r} + {token!r})"
        for token in sb.tokens.values()
    ]
    build = "#!/usr/bin/env bash\npython - <<'EOF'\n" + "\n".join(lines) + "\nEOF\nexit 1\n"
    files = [("start-app.sh", SHOWS_CREDENTIAL), ("build-app.sh", build.encode())]
    _, version = source_with(sb, files, role="user")
    created = create(sb, version, "user")
    app_id = created.json()["id"]
    failed = wait_until(sb, app_id)
    assert failed["status"] == "failed"
    url = f"customApplications/{app_id}/"
    readable = [page(sb, app_id)]
    for role in ("user", "admin", "viewer"):
        readable += [
            sb.api("GET", url, role=role).text,
            sb.api("GET", "customApplications/", role=role).text,
            json.dumps(status_of(sb, created, role)),
            sb.api("GET", f"{url}logs/", role=role).text,
        ]
    for token in sb.tokens.values():
        parts = {token[i : i + 8] for i in range(len(token) - 7)}
        survived = sum(part in text for part in parts for text in readable)
        assert survived == 0, f"{survived} parts of a token survived"  # never shown here
    owners_log = sb.api("GET", f"{url}logs/", role="user").json()["buildLog"]
    assert f"{'x' * 100}[redacted]" in owners_log  # positive control: the lines are there
    delete(sb, app_id)
