"""Application sources from templates: sync, async (202 + status + 303), errors; jobs end once."""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from dr_notebook.sandbox.service import sources
from dr_notebook.sandbox.service.versions import VERSION_RULES
from dr_notebook.sandbox.store.database import NewTemplate, Store
from dr_notebook.sandbox.store.sources import SourceStore
from dr_notebook.sandbox.testing import SandboxServer, start_sandbox

ENV = {"environmentId": "env-9", "environmentVersionId": "ver-9"}
SOURCE_FIELDS = {
    "createdAt", "createdBy", "creatorFirstName", "creatorLastName", "creatorUserhash", "id",
    "latestVersion", "name", "orgId", "permissions", "updatedAt", "userId",
}  # fmt: skip
VERSION_FIELDS = {
    "baseEnvironmentId", "baseEnvironmentVersionId", "createdAt", "createdBy", "creatorFirstName",
    "creatorLastName", "creatorUserhash", "id", "isFrozen", "items", "label", "updatedAt", "userId",
    "resources", "runtimeParameters",
}  # fmt: skip
ITEM_FIELDS = {
    "commitSha", "created", "fileName", "filePath", "fileSource", "id", "ref",
    "repositoryFilePath", "repositoryLocation", "repositoryName",
}  # fmt: skip


def make_template(sb, name, template_type="customApplicationTemplate", enabled="true"):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("app.py", "import streamlit\n")
        archive.writestr("static/logo.svg", "<svg/>")
    data = {
        "name": name, "description": f"{name} description", "templateType": template_type,
        "templateSubType": "streamlit", "defaultEnvironment": json.dumps(ENV), "enabled": enabled,
    }  # fmt: skip
    response = sb.api(
        "POST", "customTemplates/", data=data, files={"file": ("t.zip", buf.getvalue())}
    )
    assert response.status_code == 201, response.text
    return response.json()["customTemplateId"]


@dataclass(frozen=True)
class TemplateIds:
    """The module sandbox's templates: one a source can be made from, two it cannot."""

    app_id: str
    metric_id: str
    disabled_id: str


@pytest.fixture(scope="module")
def seeded() -> Iterator[tuple[SandboxServer, TemplateIds]]:
    with start_sandbox(demo=False) as server:
        yield (
            server,
            TemplateIds(
                app_id=make_template(server, "Streamlit Base"),
                metric_id=make_template(server, "Some Metric", "customMetricTemplate"),
                disabled_id=make_template(server, "Disabled App", enabled="false"),
            ),
        )


@pytest.fixture(scope="module")
def sb(seeded: tuple[SandboxServer, TemplateIds]) -> SandboxServer:
    return seeded[0]


@pytest.fixture(scope="module")
def template_ids(seeded: tuple[SandboxServer, TemplateIds]) -> TemplateIds:
    return seeded[1]


@pytest.fixture(scope="module")
def app_id(template_ids: TemplateIds) -> str:
    return template_ids.app_id


@pytest.fixture
def async_mode(sb):
    sb.configure(async_sources=True, async_delay_ms=400)
    yield sb
    sb.configure(async_sources=False, async_delay_ms=300, async_outcome="COMPLETED")


def from_template(sb, template_id, role="admin", **kwargs):
    return sb.api(
        "POST", "customApplicationSources/fromCustomTemplate/", role=role,
        json={"customTemplateId": template_id}, allow_redirects=False, **kwargs,
    )  # fmt: skip


def test_sync_creation_returns_a_complete_source(sb, app_id):
    response = from_template(sb, app_id)
    assert response.status_code == 200, response.text
    source = response.json()
    assert set(source) == SOURCE_FIELDS
    assert source["name"] == "Streamlit Base" and len(source["id"]) == 24
    assert "CAN_PUBLISH_NEW_IMAGE" in source["permissions"]
    version = source["latestVersion"]
    assert set(version) == VERSION_FIELDS
    assert version["baseEnvironmentId"] == "env-9"
    assert version["baseEnvironmentVersionId"] == "ver-9"
    assert version["isFrozen"] is False and version["label"]
    for item in version["items"]:
        assert set(item) == ITEM_FIELDS
    assert sorted((i["filePath"], i["fileName"]) for i in version["items"]) == [
        ("app.py", "app.py"),
        ("static/logo.svg", "logo.svg"),
    ]
    again = sb.api("GET", f"customApplicationSources/{source['id']}/").json()
    assert again == source


@pytest.mark.parametrize(
    ("role", "can_publish", "can_delete"),
    [("admin", True, True), ("user", True, True)],  # each is the owner here
)
def test_permissions_match_the_callers_role(sb, role, can_publish, can_delete, app_id):
    source = from_template(sb, app_id, role=role).json()
    assert ("CAN_PUBLISH_NEW_IMAGE" in source["permissions"]) is can_publish
    assert ("CAN_DELETE" in source["permissions"]) is can_delete
    seen_by_viewer = sb.api(
        "GET", f"customApplicationSources/{source['id']}/", role="viewer"
    ).json()
    assert seen_by_viewer["permissions"] == ["CAN_VIEW"]


def test_viewer_cannot_create_sources(sb, app_id):
    response = from_template(sb, app_id, role="viewer")
    assert response.status_code == 403 and "viewer" in response.json()["message"]


def test_unknown_template_is_404(sb):
    response = from_template(sb, "f" * 24)
    assert response.status_code == 404 and "f" * 24 in response.json()["message"]


@pytest.mark.parametrize(
    ("attr", "words"), [("disabled_id", "disabled"), ("metric_id", "customApplicationTemplate")]
)
def test_unsuitable_templates_are_422_saying_why(sb, template_ids, attr, words):
    response = from_template(sb, getattr(template_ids, attr))
    assert response.status_code == 422
    assert words in response.json()["message"]


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        b'{"customTemplateId": 5}',
        b"{}",
        b'{"customTemplateId": ""}',
        b"",
        b"\xff\xfe",
        b"[" * 100_000 + b"]" * 100_000,
    ],
)
def test_malformed_bodies_are_422(sb, body):
    response = sb.api(
        "POST", "customApplicationSources/fromCustomTemplate/", data=body,
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    assert response.status_code == 422
    assert response.json()["errors"]
    assert all(not key.isdigit() for key in response.json()["errors"])


def test_source_listing_paginates_orders_and_filters(sb, app_id):
    before = sb.api("GET", "customApplicationSources/").json()["totalCount"]
    for _ in range(3):
        assert from_template(sb, app_id).status_code == 200
    body = sb.api("GET", "customApplicationSources/?limit=2&orderBy=-createdAt").json()
    assert body["totalCount"] == before + 3 and body["count"] == 2
    assert body["next"].startswith(sb.endpoint) and "orderBy=-createdAt" in body["next"]
    stamps = [s["createdAt"] for s in body["data"]]
    assert stamps == sorted(stamps, reverse=True)
    assert (
        sb.api("GET", "customApplicationSources/?name=streamlit").json()["totalCount"] == before + 3
    )
    assert sb.api("GET", "customApplicationSources/?name=zzz").json()["totalCount"] == 0
    assert sb.api("GET", "customApplicationSources/?orderBy=bogus").status_code == 422
    assert sb.api("GET", "customApplicationSources/?limit=500").status_code == 422
    assert sb.api("GET", f"customApplicationSources/{'0' * 24}/").status_code == 404


def test_async_creation_202_then_status_then_303(async_mode, app_id):
    sb = async_mode
    response = from_template(sb, app_id)
    assert response.status_code == 202
    location = response.headers["Location"]
    assert location.startswith(f"{sb.endpoint}/status/") and location.endswith("/")
    states = []
    deadline = time.monotonic() + 10
    poll = None
    while time.monotonic() < deadline:
        poll = sb.api("GET", location, allow_redirects=False)
        if poll.status_code == 303:
            break
        assert poll.status_code == 200
        body = poll.json()
        assert set(body) == {
            "statusId",
            "status",
            "message",
            "code",
            "created",
            "description",
            "statusType",
        }
        states.append(body["status"])
        time.sleep(0.05)
    assert poll is not None and poll.status_code == 303
    assert states and set(states) <= {"INITIALIZED", "RUNNING"} and "RUNNING" in states
    source_url = poll.headers["Location"]
    assert source_url.startswith(f"{sb.endpoint}/customApplicationSources/")
    source = sb.api("GET", source_url).json()
    assert source["name"] == "Streamlit Base" and len(source["latestVersion"]["items"]) == 2
    # Following the redirect (as requests does) lands on the same source; polling is idempotent.
    followed = sb.api("GET", location)
    assert followed.status_code == 200 and followed.json()["id"] == source["id"]


@pytest.mark.parametrize("outcome", ["ERROR", "ABORTED", "EXPIRED"])
def test_failed_jobs_report_their_status_and_a_message(async_mode, outcome, app_id):
    sb = async_mode
    sb.configure(async_delay_ms=0, async_outcome=outcome)
    location = from_template(sb, app_id).headers["Location"]
    poll = sb.api("GET", location, allow_redirects=False)
    assert poll.status_code == 200 and "Location" not in poll.headers
    assert poll.json()["status"] == outcome and poll.json()["message"]


def test_template_deleted_while_the_job_runs_gives_error(async_mode):
    sb = async_mode
    doomed = make_template(sb, "Short Lived")
    location = from_template(sb, doomed).headers["Location"]
    assert sb.api("DELETE", f"customTemplates/{doomed}/").status_code == 204
    time.sleep(0.45)
    body = sb.api("GET", location, allow_redirects=False).json()
    assert body["status"] == "ERROR" and "deleted" in body["message"]


def test_async_errors_are_still_immediate(async_mode, template_ids):
    assert from_template(async_mode, template_ids.disabled_id).status_code == 422
    assert async_mode.api("GET", f"status/{'0' * 24}/").status_code == 404


@pytest.mark.parametrize("outcome", ["COMPLETED", "ERROR"])
def test_two_polls_that_race_to_finish_a_job_finish_it_once(tmp_path, outcome):
    """Both polls read the job before either finished it: one result, one source at most."""
    store = Store(tmp_path / "race.db")
    template = NewTemplate(
        name="Racer", description="d", template_type=sources.APP_TEMPLATE_TYPE,
        template_sub_type="streamlit", files=[("app.py", b"1")],
    )  # fmt: skip
    store.insert_templates([template])
    job = sources.new_job(template.id, "admin", delay_ms=0, outcome=outcome)
    store.insert_job(job)
    first, second = store.get_job(job["id"]), store.get_job(job["id"])
    assert first is not None and second is not None
    done = [sources.advance_job(store, first), sources.advance_job(store, second)]
    assert done[0] == done[1] == store.get_job(job["id"])
    created = SourceStore(store, VERSION_RULES).list_sources(None, None, 0, 100)
    assert created[1] == (1 if outcome == "COMPLETED" else 0)
    if outcome == "COMPLETED":
        assert done[0]["source_id"] == created[0][0]["id"]
    else:
        assert done[0]["message"] and done[0]["source_id"] is None
    store.close()
