"""Runtime parameters on source versions over HTTP: both wire forms, checks against
``metadata.yaml`` (422 naming the parameter), credentials masked, values copied, and the
``MLOPS_RUNTIME_PARAM_<NAME>`` variables an application gets."""

from __future__ import annotations

import hashlib
import json
import os
import time

import pytest

from dr_notebook.sandbox.service.parameters import CREDENTIAL_MASK, runtime_environment
from dr_notebook.sandbox.testing import processes_in, start_sandbox

METADATA = b"""\
runtimeParameterDefinitions:
  - fieldName: MODEL_NAME
    type: string
    defaultValue: small
    allowEmpty: false
    description: The model.
  - fieldName: TEMPERATURE
    type: numeric
    defaultValue: 0.2
    minValue: 0
    maxValue: 2
  - fieldName: STREAM
    type: boolean
  - fieldName: API_KEY
    type: credential
    credentialType: api_token
  - fieldName: MLOPS_SNEAKY
    type: string
"""


@pytest.fixture(scope="module")
def sb():
    with start_sandbox(demo=False) as server:
        yield server


def source_with(sb, files):
    source = sb.api("POST", "customApplicationSources/", json={"name": "Params"}).json()
    version = source["latestVersion"]["id"]
    url = f"customApplicationSources/{source['id']}/versions/{version}/"
    response = sb.api(
        "PATCH", url,
        files=[("file", (p, d)) for p, d in files], data=[("filePath", p) for p, _ in files],
    )  # fmt: skip
    assert response.status_code == 200, response.text
    return source["id"], version, url


def current(version):
    return {p["fieldName"]: p["currentValue"] for p in version["runtimeParameters"]}


def test_definitions_are_listed_with_their_current_values(sb):
    _, _, url = source_with(sb, [("metadata.yaml", METADATA)])
    listed = sb.api("GET", url).json()["runtimeParameters"]
    by_name = {p["fieldName"]: p for p in listed}
    assert list(by_name) == ["MODEL_NAME", "TEMPERATURE", "STREAM", "API_KEY", "MLOPS_SNEAKY"]
    assert by_name["TEMPERATURE"]["minValue"] == 0 and by_name["TEMPERATURE"]["maxValue"] == 2
    assert by_name["MODEL_NAME"]["allowEmpty"] is False
    assert by_name["MODEL_NAME"]["defaultValue"] == "small"
    assert by_name["API_KEY"]["credentialType"] == "api_token"
    assert all(p["currentValue"] is None for p in listed)


def test_both_forms_merge_one_parameter_per_request_as_drapps_sends(sb):
    _, _, url = source_with(sb, [("metadata.yaml", METADATA)])
    old = [{"fieldName": "MODEL_NAME", "type": "string", "value": "large"}]
    sb.api("PATCH", url, json={"runtimeParameterValues": json.dumps(old)}).raise_for_status()
    new = [{"fieldName": "TEMPERATURE", "type": "numeric", "currentValue": "1.5"}]
    version = sb.api("PATCH", url, json={"runtimeParameters": new}).json()
    # the second request kept the first one's value; text numbers are stored as numbers
    assert current(version)["MODEL_NAME"] == "large" and current(version)["TEMPERATURE"] == 1.5
    flag = [{"fieldName": "STREAM", "type": "boolean", "value": "true"}]
    version = sb.api("PATCH", url, data={"runtimeParameterValues": json.dumps(flag)}).json()
    assert current(version)["STREAM"] is True
    unset = [{"fieldName": "MODEL_NAME", "type": "string", "value": None}]
    version = sb.api("PATCH", url, json={"runtimeParameterValues": unset}).json()
    assert current(version)["MODEL_NAME"] is None and current(version)["STREAM"] is True


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ({"fieldName": "NOPE", "value": "x"}, ["NOPE", "no such parameter", "MODEL_NAME"]),
        ({"fieldName": "TEMPERATURE", "value": "warm"}, ["TEMPERATURE", "number"]),
        ({"fieldName": "TEMPERATURE", "value": True}, ["TEMPERATURE", "number"]),
        ({"fieldName": "TEMPERATURE", "value": 2.5}, ["TEMPERATURE", "maximum 2"]),
        ({"fieldName": "TEMPERATURE", "value": -1}, ["TEMPERATURE", "minimum 0"]),
        ({"fieldName": "STREAM", "value": "maybe"}, ["STREAM", "true or false"]),
        ({"fieldName": "MODEL_NAME", "value": ""}, ["MODEL_NAME", "empty"]),
        ({"fieldName": "MODEL_NAME", "value": 5}, ["MODEL_NAME", "string"]),
        ({"fieldName": "MLOPS_SNEAKY", "value": "x"}, ["MLOPS_SNEAKY", "reserved"]),
    ],
)
def test_wrong_values_are_422_naming_the_parameter_and_change_nothing(sb, entry, words):
    _, _, url = source_with(sb, [("metadata.yaml", METADATA)])
    good = {"fieldName": "MODEL_NAME", "type": "string", "value": "kept"}
    sb.api("PATCH", url, json={"runtimeParameterValues": [good]}).raise_for_status()
    for field in ("runtimeParameterValues", "runtimeParameters"):
        response = sb.api("PATCH", url, json={field: [{"type": "string", **entry}]})
        assert response.status_code == 422, response.text
        message = response.json()["errors"][field]
        assert all(word in message for word in words), message
    assert current(sb.api("GET", url).json())["MODEL_NAME"] == "kept"


def test_a_version_without_metadata_takes_no_values_and_files_and_values_go_together(sb):
    _source_id, _version_id, url = source_with(sb, [("a.txt", b"a")])
    value = json.dumps([{"fieldName": "MODEL_NAME", "type": "string", "value": "m"}])
    refused = sb.api("PATCH", url, json={"runtimeParameterValues": value})
    assert refused.status_code == 422 and "declares no such parameter" in refused.text
    # metadata.yaml and the value in one multipart request: the value is checked against it
    both = sb.api(
        "PATCH", url, files=[("file", ("metadata.yaml", METADATA))],
        data=[("filePath", "metadata.yaml"), ("runtimeParameterValues", value)],
    )  # fmt: skip
    assert both.status_code == 200 and current(both.json())["MODEL_NAME"] == "m"


def test_credentials_are_masked_and_values_are_copied_to_a_new_version(sb):
    source_id, version_id, url = source_with(sb, [("metadata.yaml", METADATA)])
    secret = "sk-live-do-not-show-4242"
    values = [{"fieldName": "API_KEY", "type": "credential", "value": secret},
              {"fieldName": "TEMPERATURE", "type": "numeric", "value": 1}]  # fmt: skip
    patched = sb.api("PATCH", url, json={"runtimeParameterValues": values})
    assert patched.status_code == 200 and secret not in patched.text
    assert current(patched.json())["API_KEY"] == CREDENTIAL_MASK
    copy = sb.api(
        "POST", f"customApplicationSources/{source_id}/versions/",
        json={"baseVersion": version_id, "runtimeParameterValues": json.dumps(
            [{"fieldName": "STREAM", "type": "boolean", "value": False}])},
    )  # fmt: skip
    assert copy.status_code == 201, copy.text
    assert current(copy.json()) == {
        "MODEL_NAME": None, "TEMPERATURE": 1, "STREAM": False,
        "API_KEY": CREDENTIAL_MASK, "MLOPS_SNEAKY": None,
    }  # fmt: skip
    for where in (
        f"customApplicationSources/{source_id}/",
        f"customApplicationSources/{source_id}/versions/",
    ):
        assert secret not in sb.api("GET", where).text
    bad = sb.api(
        "POST", f"customApplicationSources/{source_id}/versions/",
        json={"baseVersion": version_id, "runtimeParameterValues": [
            {"fieldName": "TEMPERATURE", "type": "numeric", "value": 9}]},
    )  # fmt: skip
    assert bad.status_code == 422 and "TEMPERATURE" in bad.json()["message"]
    listed = sb.api("GET", f"customApplicationSources/{source_id}/versions/").json()
    assert listed["count"] == 2  # the refused version was not created


def test_the_environment_has_plain_values_and_credentials_as_datarobot_passes_them():
    parameters = [
        {"fieldName": "MODEL_NAME", "type": "string", "defaultValue": "small",
         "currentValue": None},
        {"fieldName": "TEMPERATURE", "type": "numeric", "defaultValue": 0.2, "currentValue": 1.0},
        {"fieldName": "STREAM", "type": "boolean", "defaultValue": None, "currentValue": False},
        {"fieldName": "UNSET", "type": "string", "defaultValue": None, "currentValue": None},
        {"fieldName": "API_KEY", "type": "credential", "credentialType": "api_token",
         "defaultValue": None, "currentValue": "sk-1"},
    ]  # fmt: skip
    env = runtime_environment(parameters)
    assert env == {
        "MLOPS_RUNTIME_PARAM_MODEL_NAME": "small",
        "MLOPS_RUNTIME_PARAM_TEMPERATURE": "1",
        "MLOPS_RUNTIME_PARAM_STREAM": "false",
        "MLOPS_RUNTIME_PARAM_API_KEY": json.dumps(
            {"type": "credential", "payload": {"credentialType": "api_token", "apiToken": "sk-1"}}
        ),
    }


ENV_APP = (
    b"#!/usr/bin/env bash\n"
    b"env | grep '^MLOPS_RUNTIME_PARAM_' | sort | sed 's/^/param /'\n"
    b"printf '%s' \"$MLOPS_RUNTIME_PARAM_API_KEY\" | sha256sum | sed 's/^/sha256 /'\n"
    b'exec python -m http.server "$PORT" --bind "${BIND_ADDRESS:-127.0.0.1}"\n'
)


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix", reason="POSIX only")
def test_values_and_defaults_reach_the_running_application():
    with start_sandbox(run_apps=True, demo=False) as sb:
        _source_id, version_id, url = source_with(
            sb, [("metadata.yaml", METADATA), ("start-app.sh", ENV_APP)]
        )
        values = [{"fieldName": "TEMPERATURE", "type": "numeric", "value": 1.5},
                  {"fieldName": "API_KEY", "type": "credential", "value": "sk-9"}]  # fmt: skip
        sb.api("PATCH", url, json={"runtimeParameterValues": values}).raise_for_status()
        app = sb.api(
            "POST", "customApplications/", json={"applicationSourceVersionId": version_id},
            allow_redirects=False,
        ).json()  # fmt: skip
        deadline, lines = time.monotonic() + 60, []
        while time.monotonic() < deadline:
            lines = sb.api("GET", f"customApplications/{app['id']}/logs/").json()["logs"]
            if any(line.startswith("sha256 ") for line in lines):
                break
            time.sleep(0.2)
        params = dict(
            line.removeprefix("param ").split("=", 1) for line in lines if line.startswith("param ")
        )
        credential = json.dumps(
            {"type": "credential", "payload": {"credentialType": "api_token", "apiToken": "sk-9"}}
        )
        assert params == {
            "MLOPS_RUNTIME_PARAM_MODEL_NAME": "small",
            "MLOPS_RUNTIME_PARAM_TEMPERATURE": "1.5",
            "MLOPS_RUNTIME_PARAM_API_KEY": "[redacted]",  # the app printed it: not served
        }
        digest = next(line.split()[1] for line in lines if line.startswith("sha256 "))
        assert digest == hashlib.sha256(credential.encode()).hexdigest()  # but it had it
        assert "sk-9" not in json.dumps(lines)
        frozen = sb.api("PATCH", url, json={"runtimeParameterValues": values})
        assert frozen.status_code == 422 and "frozen" in frozen.text
        assert sb.api("DELETE", f"customApplications/{app['id']}/").status_code == 204
        assert processes_in(sb.apps_dir) == []
