"""Fuzz the sandbox with schemathesis, driven by the app's own OpenAPI document: never a 5xx."""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterator

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from dr_notebook.sandbox.testing import SandboxServer, start_sandbox

# Every current health check: iterating HealthCheck leaves out the deprecated ones.
ALL_HEALTH_CHECKS = [
    check for check in HealthCheck.__members__.values() if check in list(HealthCheck)
]


@pytest.fixture(scope="module")
def fuzzed_with_ids() -> Iterator[tuple[SandboxServer, dict[str, str]]]:
    with start_sandbox(demo=False, generate=20, seed=3) as server:
        yield server, known_ids(server)


@pytest.fixture(scope="module")
def fuzzed(fuzzed_with_ids: tuple[SandboxServer, dict[str, str]]) -> SandboxServer:
    return fuzzed_with_ids[0]


def known_ids(server):
    """A source with a runnable version and an application: real ids for half the cases."""
    source = server.api("POST", "customApplicationSources/", json={"name": "fuzzed"}).json()
    version = source["latestVersion"]["id"]
    script = b"#!/usr/bin/env bash\nexec python -m http.server $PORT\n"
    items = server.api(
        "PATCH", f"customApplicationSources/{source['id']}/versions/{version}/",
        files=[("file", ("start-app.sh", script))], data=[("filePath", "start-app.sh")],
    ).json()["items"]  # fmt: skip
    app = server.api(
        "POST", "customApplications/", json={"name": "fuzzed", "applicationSourceId": source["id"]}
    ).json()
    second = server.api(
        "POST", f"customApplicationSources/{source['id']}/versions/", json={"baseVersion": version}
    ).json()
    return {
        "sourceId": source["id"],
        "versionId": second["id"],
        "itemId": items[0]["id"],
        "applicationId": app["id"],
    }


@pytest.fixture
def api_schema(fuzzed):
    return schemathesis.from_uri(
        f"{fuzzed.base_url}/openapi.json",
        base_url=fuzzed.base_url,
        data_generation_methods=schemathesis.DataGenerationMethod.all(),
    )


schemathesis.experimental.OPEN_API_3_1.enable()
schema = schemathesis.from_pytest_fixture("api_schema")


def test_openapi_document_describes_every_endpoint(fuzzed):
    doc = fuzzed.api("GET", f"{fuzzed.base_url}/openapi.json", role=None).json()
    paths = set(doc["paths"])
    assert {
        "/api/v2/version/",
        "/api/v2/customTemplates/",
        "/api/v2/customTemplates/{customTemplateId}/",
        "/api/v2/customTemplates/{customTemplateId}/files/{fileId}/",
        "/api/v2/customApplicationSources/fromCustomTemplate/",
        "/api/v2/customApplicationSources/",
        "/api/v2/customApplicationSources/{sourceId}/",
        "/api/v2/status/{statusId}/",
        "/api/v2/customApplicationSources/{sourceId}/versions/",
        "/api/v2/customApplicationSources/{sourceId}/versions/{versionId}/",
        "/api/v2/customApplicationSources/{sourceId}/versions/{versionId}/items/{itemId}/",
        "/api/v2/customApplications/",
        "/api/v2/customApplications/nameCheck/",
        "/api/v2/customApplications/{applicationId}/",
        "/api/v2/customApplications/{applicationId}/logs/",
        "/api/v2/customApplications/{applicationId}/history/",
    } <= paths
    patch = doc["paths"]["/api/v2/customApplicationSources/{sourceId}/versions/{versionId}/"]
    assert "multipart/form-data" in patch["patch"]["requestBody"]["content"]
    create = doc["paths"]["/api/v2/customTemplates/"]["post"]["requestBody"]["content"]
    assert "file" in create["multipart/form-data"]["schema"]["required"]
    assert doc["components"]["securitySchemes"]["BearerAuth"]["scheme"] == "bearer"


@schema.parametrize()
@settings(
    max_examples=int(os.environ.get("SANDBOX_FUZZ_EXAMPLES", "15")),
    deadline=None,
    suppress_health_check=ALL_HEALTH_CHECKS,
    derandomize=True,
    database=None,
)
def test_no_input_makes_the_sandbox_fail(case, fuzzed, fuzzed_with_ids):
    params = case.path_parameters or {}
    if zlib.crc32(repr(sorted(params.items())).encode()) % 2 == 0:
        params.update({k: v for k, v in fuzzed_with_ids[1].items() if k in params})
    try:
        response = case.call(headers=fuzzed.auth_headers(), timeout=30)
    except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
        # uvicorn refuses a request that is not valid HTTP before the app sees it, answering
        # 400 and closing at once: with request bytes still unread, the close can reach the
        # client as a reset. The sandbox itself must still be there and answer.
        assert fuzzed.running and fuzzed.api("GET", "version/").status_code == 200
        return
    case.validate_response(response, checks=(not_a_server_error,))
    if response.status_code == 400 and response.headers["content-type"].startswith("text/plain"):
        return  # uvicorn refused a request that is not valid HTTP; the app never saw it
    assert response.headers.get("X-DataRobot-Request-ID")
    if response.status_code >= 400:
        assert set(response.json()) == {"message", "errors"}
