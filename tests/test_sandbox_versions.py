"""Application sources and their versions over HTTP: CRUD, files, frozen versions, roles."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from archives import tar_of, zip_of

from dr_notebook.sandbox.testing import start_sandbox

START = b'#!/usr/bin/env bash\nexec python -m http.server "$PORT"\n'


@pytest.fixture(scope="module")
def sb():
    with start_sandbox(demo=False) as server:
        yield server


def new_source(sb, name="My Source", role="admin"):
    response = sb.api("POST", "customApplicationSources/", role=role, json={"name": name})
    assert response.status_code == 201, response.text
    return response.json()


def upload(sb, source_id, version_id, files, role="admin", **fields):
    parts = [("file", (path.rsplit("/", 1)[-1], data)) for path, data in files]
    data = [("filePath", path) for path, _ in files] + list(fields.items())
    return sb.api(
        "PATCH", f"customApplicationSources/{source_id}/versions/{version_id}/",
        role=role, files=parts, data=data,
    )  # fmt: skip


def version_of(sb, source):
    return source["latestVersion"]["id"]


def test_create_get_rename_and_delete_a_source(sb):
    source = new_source(sb, "  Spaced  ")
    assert source["name"] == "Spaced" and len(source["id"]) == 24
    latest = source["latestVersion"]
    assert latest["items"] == [] and latest["isFrozen"] is False and latest["label"] == "v1"
    assert "CAN_DELETE" in source["permissions"]
    url = f"customApplicationSources/{source['id']}/"
    renamed = sb.api("PATCH", url, json={"name": "Renamed"}).json()
    assert renamed["name"] == "Renamed" and sb.api("GET", url).json()["name"] == "Renamed"
    resources = {"replicas": 2, "resourceLabel": "cpu.large"}
    patched = sb.api("PATCH", url, json={"resources": resources}).json()
    assert patched["latestVersion"]["resources"] == resources
    assert sb.api("DELETE", url).status_code == 204
    assert sb.api("GET", url).status_code == 404
    assert sb.api("DELETE", url).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "name"), ({"name": " "}, "name"), ({"name": "x" * 256}, "name"), ({"name": 5}, "name")],
)
def test_bad_source_fields_are_422_naming_them(sb, body, field):
    response = sb.api("POST", "customApplicationSources/", json=body)
    assert response.status_code == 422 and field in response.json()["errors"]
    source = new_source(sb)
    patch = sb.api("PATCH", f"customApplicationSources/{source['id']}/", json={})
    assert patch.status_code == 422
    bad = sb.api(
        "PATCH", f"customApplicationSources/{source['id']}/", json={"resources": {"replicas": 0}}
    )
    assert bad.status_code == 422 and "resources" in bad.json()["errors"]


def test_roles(sb):
    assert (
        sb.api("POST", "customApplicationSources/", role="viewer", json={"name": "v"}).status_code
        == 403
    )
    source = new_source(sb, role="user")
    assert "CAN_DELETE" in source["permissions"]  # its owner
    url = f"customApplicationSources/{source['id']}/"
    admins = new_source(sb)
    admins_url = f"customApplicationSources/{admins['id']}/"
    assert sb.api("GET", admins_url, role="user").json()["permissions"] == ["CAN_VIEW"]
    assert sb.api("DELETE", admins_url, role="user").status_code == 403
    assert sb.api("PATCH", admins_url, role="user", json={"name": "n"}).status_code == 403
    assert sb.api("POST", f"{admins_url}versions/", role="user", json={}).status_code == 403
    into_admins = upload(sb, admins["id"], version_of(sb, admins), [("a.txt", b"1")], role="user")
    assert into_admins.status_code == 403
    assert sb.api("PATCH", url, role="viewer", json={"name": "n"}).status_code == 403
    assert (
        upload(
            sb, source["id"], version_of(sb, source), [("a.txt", b"1")], role="viewer"
        ).status_code
        == 403
    )
    assert sb.api("POST", f"{url}versions/", role="viewer", json={}).status_code == 403
    assert sb.api("GET", url, role="viewer").json()["permissions"] == ["CAN_VIEW"]
    second = sb.api("POST", f"{url}versions/", role="user", json={}).json()
    assert sb.api("DELETE", f"{url}versions/{second['id']}/", role="viewer").status_code == 403
    assert sb.api("GET", f"{url}versions/{second['id']}/", role="viewer").status_code == 200
    assert sb.api("DELETE", f"{url}?hardDelete=true", role="viewer").status_code == 403
    assert (
        upload(sb, source["id"], version_of(sb, source), [("a.txt", b"1")], role="user").status_code
        == 200
    )
    # the admin still changes everything; the owner deletes its own source
    assert upload(sb, source["id"], version_of(sb, source), [("b.txt", b"2")]).status_code == 200
    assert sb.api("DELETE", url, role="user").status_code == 204
    assert sb.api("DELETE", admins_url).status_code == 204


def test_files_are_uploaded_listed_read_replaced_and_deleted(sb):
    source = new_source(sb)
    vid = version_of(sb, source)
    response = upload(
        sb, source["id"], vid, [("start-app.sh", START), ("web/index.html", b"<h1>hi</h1>")]
    )
    assert response.status_code == 200, response.text
    version = response.json()
    items = {i["filePath"]: i for i in version["items"]}
    assert set(items) == {"start-app.sh", "web/index.html"}
    assert items["web/index.html"]["fileName"] == "index.html"
    base = f"customApplicationSources/{source['id']}/versions/{vid}/"
    item = sb.api("GET", f"{base}items/{items['web/index.html']['id']}/").json()
    assert item["content"] == "<h1>hi</h1>" and item["fileName"] == "index.html"
    replaced = upload(sb, source["id"], vid, [("web/index.html", b"<h1>new</h1>")]).json()
    new_item = next(i for i in replaced["items"] if i["filePath"] == "web/index.html")
    assert len(replaced["items"]) == 2
    assert sb.api("GET", f"{base}items/{new_item['id']}/").json()["content"] == "<h1>new</h1>"
    gone = sb.api("PATCH", base, json={"filesToDelete": [new_item["id"]]}).json()
    assert [i["filePath"] for i in gone["items"]] == ["start-app.sh"]
    unknown = sb.api("PATCH", base, json={"filesToDelete": ["f" * 24]})
    assert unknown.status_code == 422 and "filesToDelete" in unknown.json()["errors"]
    assert sb.api("GET", f"{base}items/{'0' * 24}/").status_code == 404
    assert (
        sb.api("GET", f"customApplicationSources/{source['id']}/versions/{'0' * 24}/").status_code
        == 404
    )


def test_settings_and_runtime_parameters_both_as_json_text_and_as_values(sb):
    source = new_source(sb)
    base = f"customApplicationSources/{source['id']}/versions/{version_of(sb, source)}/"
    metadata = (
        b"runtimeParameterDefinitions:\n"
        b"  - fieldName: APP_TITLE\n    type: string\n    defaultValue: Hello\n"
    )
    assert upload(sb, source["id"], version_of(sb, source), [("metadata.yaml", metadata)]).ok
    values = [{"fieldName": "APP_TITLE", "type": "string", "value": "Hi there"}]
    as_text = sb.api("PATCH", base, json={"runtimeParameterValues": json.dumps(values),
                                          "baseEnvironmentId": "env-1"}).json()  # fmt: skip
    param = as_text["runtimeParameters"][0]
    assert (param["fieldName"], param["defaultValue"], param["currentValue"]) == (
        "APP_TITLE",
        "Hello",
        "Hi there",
    )
    assert as_text["baseEnvironmentId"] == "env-1"
    as_value = sb.api("PATCH", base, json={"runtimeParameterValues": [
        {"fieldName": "APP_TITLE", "type": "string", "value": None}]}).json()  # fmt: skip
    assert {p["fieldName"]: p["currentValue"] for p in as_value["runtimeParameters"]} == {
        "APP_TITLE": None,
    }  # fmt: skip
    multipart = upload(sb, source["id"], version_of(sb, source), [("a.txt", b"a")],
                       resources=json.dumps({"replicas": 3}))  # fmt: skip
    assert multipart.json()["resources"] == {"replicas": 3}
    for bad in ([{"fieldName": "has space", "value": 1}], "not json", {"fieldName": "X"}):
        response = sb.api("PATCH", base, json={"runtimeParameterValues": bad})
        assert response.status_code == 422 and "runtimeParameterValues" in response.json()["errors"]
    assert sb.api("PATCH", base, json={}).status_code == 422


def test_versions_list_newest_first_copy_their_base_and_delete(sb):
    source = new_source(sb)
    sid, v1 = source["id"], version_of(sb, source)
    upload(sb, sid, v1, [("start-app.sh", START), ("app.txt", b"one")])
    sb.api(
        "PATCH",
        f"customApplicationSources/{sid}/versions/{v1}/",
        json={"resources": {"replicas": 2}},
    )
    created = sb.api(
        "POST",
        f"customApplicationSources/{sid}/versions/",
        json={"label": "second", "baseVersion": v1},
    )
    assert created.status_code == 201, created.text
    v2 = created.json()
    assert v2["label"] == "second" and v2["resources"] == {"replicas": 2}
    assert sorted(i["filePath"] for i in v2["items"]) == ["app.txt", "start-app.sh"]
    assert {i["id"] for i in v2["items"]}.isdisjoint(
        {
            i["id"]
            for i in sb.api("GET", f"customApplicationSources/{sid}/versions/{v1}/").json()["items"]
        }
    )
    empty = sb.api("POST", f"customApplicationSources/{sid}/versions/", json={}).json()
    assert empty["items"] == [] and empty["label"] == "v3"
    listing = sb.api("GET", f"customApplicationSources/{sid}/versions/?limit=2").json()
    assert [v["id"] for v in listing["data"]] == [empty["id"], v2["id"]]
    assert listing["totalCount"] == 3 and listing["next"]
    assert (
        sb.api("GET", f"customApplicationSources/{sid}/").json()["latestVersion"]["id"]
        == empty["id"]
    )
    assert (
        sb.api("DELETE", f"customApplicationSources/{sid}/versions/{empty['id']}/").status_code
        == 204
    )
    assert (
        sb.api("GET", f"customApplicationSources/{sid}/").json()["latestVersion"]["id"] == v2["id"]
    )
    missing = sb.api(
        "POST", f"customApplicationSources/{sid}/versions/", json={"baseVersion": "0" * 24}
    )
    assert missing.status_code == 404
    assert (
        sb.api("POST", f"customApplicationSources/{'0' * 24}/versions/", json={}).status_code == 404
    )


def test_the_only_version_cannot_be_deleted(sb):
    source = new_source(sb)
    response = sb.api(
        "DELETE", f"customApplicationSources/{source['id']}/versions/{version_of(sb, source)}/"
    )
    assert response.status_code == 422 and "only" in response.json()["message"]


def test_a_frozen_version_refuses_changes_and_says_to_make_a_new_one(sb):
    source = new_source(sb)
    sid, vid = source["id"], version_of(sb, source)
    upload(sb, sid, vid, [("start-app.sh", START)])
    app = sb.api(
        "POST", "customApplications/", json={"name": "freezer", "applicationSourceVersionId": vid}
    )
    assert app.status_code == 202, app.text
    base = f"customApplicationSources/{sid}/versions/{vid}/"
    assert sb.api("GET", base).json()["isFrozen"] is True
    for response in (
        upload(sb, sid, vid, [("x.txt", b"x")]),
        sb.api("PATCH", base, json={"baseEnvironmentId": "e"}),
        sb.api("DELETE", base),
        sb.api("PATCH", f"customApplicationSources/{sid}/", json={"resources": {"replicas": 2}}),
    ):
        assert response.status_code == 422
        assert "new version" in response.json()["message"]
    assert [i["filePath"] for i in sb.api("GET", base).json()["items"]] == ["start-app.sh"]
    sb.api("DELETE", f"customApplications/{app.json()['id']}/")


def test_twenty_concurrent_uploads_lose_nothing(sb):
    source = new_source(sb)
    sid, vid = source["id"], version_of(sb, source)

    def push(n):
        return upload(sb, sid, vid, [(f"dir{n}/f{k}.txt", f"{n}-{k}".encode()) for k in range(5)])

    with ThreadPoolExecutor(20) as pool:
        statuses = [r.status_code for r in pool.map(push, range(20))]
    assert statuses == [200] * 20
    items = sb.api("GET", f"customApplicationSources/{sid}/versions/{vid}/").json()["items"]
    assert sorted(i["filePath"] for i in items) == sorted(
        f"dir{n}/f{k}.txt" for n in range(20) for k in range(5)
    )
    sample = next(i for i in items if i["filePath"] == "dir13/f4.txt")
    content = sb.api(
        "GET", f"customApplicationSources/{sid}/versions/{vid}/items/{sample['id']}/"
    ).json()
    assert content["content"] == "13-4"


def test_a_3_mib_patch_with_200_files_works(sb):
    source = new_source(sb)
    files = [
        (f"data/part{n:03d}.bin", bytes([n % 251]) * (3 * 1024 * 1024 // 200)) for n in range(200)
    ]
    response = upload(sb, source["id"], version_of(sb, source), files)
    assert response.status_code == 200, response.text[:300]
    assert len(response.json()["items"]) == 200


@pytest.mark.parametrize(
    "path", ["../escape.txt", "/etc/passwd", "a/../../b", "C:/x", "a\x00b", ""]
)
def test_unsafe_file_paths_are_refused(sb, path):
    source = new_source(sb)
    response = upload(sb, source["id"], version_of(sb, source), [(path, b"x")])
    assert response.status_code == 422
    assert "filePath" in response.json()["errors"]
    items = sb.api("GET", f"customApplicationSources/{source['id']}/").json()["latestVersion"][
        "items"
    ]
    assert items == []


def test_mismatched_file_and_path_counts_are_refused(sb):
    source = new_source(sb)
    response = sb.api(
        "PATCH", f"customApplicationSources/{source['id']}/versions/{version_of(sb, source)}/",
        files=[("file", ("a", b"1")), ("file", ("b", b"2"))], data=[("filePath", "a")],
    )  # fmt: skip
    assert response.status_code == 422 and "filePath" in response.json()["errors"]


@pytest.mark.parametrize("maker", [zip_of, tar_of])
def test_archives_add_their_files_but_links_and_traversal_are_refused(sb, maker):
    source = new_source(sb)
    url = f"customApplicationSources/{source['id']}/versions/{version_of(sb, source)}/"

    def send(content):
        return sb.api("PATCH", url, files=[("archive", ("a.bin", content))])

    ok = send(maker({"start-app.sh": START, "src/app.py": b"print(1)"}))  # positive control
    assert ok.status_code == 200, ok.text
    assert sorted(i["filePath"] for i in ok.json()["items"]) == ["src/app.py", "start-app.sh"]
    linked = send(maker({"other.py": b"1"}, link="passwd"))
    assert linked.status_code == 422 and "archive" in linked.json()["errors"]
    assert (
        "link" in linked.json()["errors"]["archive"]
        or "regular file" in linked.json()["errors"]["archive"]
    )
    escaping = send(maker({"../../evil.py": b"1"}))
    assert escaping.status_code == 422 and "outside" in escaping.json()["errors"]["archive"]
    after = sb.api("GET", url).json()["items"]
    assert sorted(i["filePath"] for i in after) == ["src/app.py", "start-app.sh"]
