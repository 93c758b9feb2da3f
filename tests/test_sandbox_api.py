"""The sandbox's template endpoints over real HTTP: CRUD, listing, auth, roles and wire details."""

from __future__ import annotations

import base64
import io
import json
import re
import zipfile
from typing import TYPE_CHECKING

import pytest
import requests

if TYPE_CHECKING:
    from dr_notebook.sandbox.testing import SandboxServer

ENV = json.dumps({"environmentId": "env-1", "environmentVersionId": "ver-1"})
HEX24 = re.compile(r"^[0-9a-f]{24}$")
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def zip_bytes(files: dict[str, str | bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buf.getvalue()


def form(**overrides: str | None) -> dict[str, str]:
    fields: dict[str, str | None] = {
        "name": "Demo App",
        "description": "A demo application template.",
        "templateType": "customApplicationTemplate",
        "templateSubType": "streamlit",
        "defaultEnvironment": ENV,
    }
    fields.update(overrides)
    return {k: v for k, v in fields.items() if v is not None}


def create(sb, files=None, role="admin", path="customTemplates/", **fields) -> requests.Response:
    upload = files if files is not None else {"file": ("app.zip", zip_bytes({"app.py": "x=1\n"}))}
    return sb.api("POST", path, role=role, data=form(**fields), files=upload)


# Five templates with distinct attributes; the module's own sandbox holds nothing else.
SEED = [
    dict(
        name="Alpha Chat",
        description="Q&A chat over documents",
        templateType="customApplicationTemplate",
        templateSubType="streamlit",
        publisher="DataRobot",
        category="Generative AI",
        templateMetadata=json.dumps({"tags": ["llm", "Chat"]}),
    ),
    dict(
        name="beta Forecast",
        description="Demand forecasting dashboard",
        templateType="customApplicationTemplate",
        templateSubType="dash",
        publisher="Community",
        category="Forecasting",
        templateMetadata=json.dumps({"tags": ["forecasting"]}),
    ),
    dict(
        name="Gamma Metric",
        description="An LLM toxicity CHAT metric",
        templateType="customMetricTemplate",
        templateSubType="llm",
        publisher="DataRobot",
        category="Monitoring",
        templateMetadata=json.dumps({"tags": ["llm", "monitoring"]}),
    ),
    dict(
        name="Delta Job",
        description="Nightly retraining",
        templateType="customJobTemplate",
        templateSubType="retraining",
        publisher="Acme",
        category="MLOps",
    ),
    dict(
        name="epsilon Slack",
        description="Slack bot",
        templateType="customApplicationTemplate",
        templateSubType="flask",
        publisher="Community",
        category="Integrations",
        enabled="false",
        templateMetadata=json.dumps({"tags": ["slack", "chat"]}),
    ),
]


@pytest.fixture(scope="module")
def seeded(request: pytest.FixtureRequest) -> tuple[SandboxServer, list[str]]:
    """The sandbox, and the ids of the SEED templates created in it."""
    from dr_notebook.sandbox.testing import start_sandbox

    server = start_sandbox(demo=False)
    request.addfinalizer(server.stop)
    ids = []
    for fields in SEED:
        response = create(server, **fields)
        assert response.status_code == 201, response.text
        ids.append(response.json()["customTemplateId"])
    return server, ids


@pytest.fixture(scope="module")
def sb(seeded: tuple[SandboxServer, list[str]]) -> SandboxServer:
    return seeded[0]


@pytest.fixture(scope="module")
def seed_ids(seeded: tuple[SandboxServer, list[str]]) -> list[str]:
    return seeded[1]


def names(response: requests.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [t["name"] for t in response.json()["data"]]


# -- version, auth, request ids, paths ---------------------------------------------------------
def test_version_reports_api_2_49_or_newer(sb):
    body = sb.api("GET", "version/").json()
    assert body["major"] == 2 and body["minor"] >= 49
    assert body["versionString"].startswith("2.")


@pytest.mark.parametrize("scheme", ["Bearer", "Token", "bearer"])
def test_bearer_and_token_schemes_are_accepted(sb, scheme):
    headers = {"Authorization": f"{scheme} {sb.token}"}
    response = sb.api("GET", "customTemplates/", role=None, headers=headers)
    assert response.status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer nope"},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer"},
    ],
)
def test_missing_or_unknown_token_is_401_json(sb, headers):
    response = sb.api("GET", "customTemplates/", role=None, headers=headers)
    assert response.status_code == 401
    body = response.json()
    assert body["message"] and body["errors"] == {}
    assert "nope" not in response.text


def test_every_response_has_a_fresh_request_id(sb):
    responses = [
        sb.api("GET", "version/"),
        sb.api("GET", "customTemplates/", role=None),
        sb.api("GET", f"customTemplates/{'0' * 24}/"),
        sb.api("GET", "customTemplates/?limit=0"),
        sb.api("GET", "noSuchThing/"),
        sb.api("DELETE", "version/"),
    ]
    assert [r.status_code for r in responses] == [200, 401, 404, 422, 404, 405]
    ids = [r.headers.get("X-DataRobot-Request-ID") for r in responses]
    assert all(ids) and len(set(ids)) == len(ids)
    for r in responses[1:]:
        assert set(r.json()) == {"message", "errors"}


def test_paths_with_doubled_or_missing_trailing_slash(sb, seed_ids):
    expected = sb.api("GET", "customTemplates/").json()["totalCount"]
    for path in [
        "customTemplates",
        "customTemplates//",
        f"{sb.base_url}//api//v2//customTemplates",
    ]:
        response = sb.api("GET", path)
        assert response.status_code == 200, path
        assert response.json()["totalCount"] == expected
    one = seed_ids[0]
    assert sb.api("GET", f"customTemplates//{one}").json()["id"] == one


def test_create_through_doubled_slash_as_the_official_client_does(sb):
    response = create(sb, path="customTemplates//", name="Doubled Slash")
    assert response.status_code == 201
    tid = response.json()["customTemplateId"]
    assert sb.api("DELETE", f"customTemplates/{tid}/").status_code == 204


def test_unknown_route_and_method_are_json(sb):
    assert sb.api("GET", "customThings/").json()["message"]
    response = sb.api("PUT", "customTemplates/")
    assert response.status_code == 405 and response.json()["message"]


# -- create and get ----------------------------------------------------------------------------
def test_create_answers_201_with_only_the_id_and_a_location(sb):
    response = create(sb, name="Created", publisher="Me", category="Tests",
                      defaultResourceBundleId="cpu.small")  # fmt: skip
    assert response.status_code == 201
    body = response.json()
    assert list(body) == ["customTemplateId"] and HEX24.match(body["customTemplateId"])
    location = response.headers["Location"]
    assert location == f"{sb.endpoint}/customTemplates/{body['customTemplateId']}/"
    template = requests.get(location, headers=sb.auth_headers(), timeout=10).json()
    sb.api("DELETE", location)
    assert template["name"] == "Created" and template["publisher"] == "Me"
    assert template["category"] == "Tests" and template["defaultResourceBundleId"] == "cpu.small"
    assert template["enabled"] is True
    assert template["defaultEnvironment"] == json.loads(ENV)
    assert ISO_Z.match(template["createdAt"]) and ISO_Z.match(template["updatedAt"])
    assert set(template["templateMetadata"]) >= {
        "readme", "tags", "resourceBundleIds", "classLabels", "source",
        "templateTypeSpecificResources",
    }  # fmt: skip
    assert [i["name"] for i in template["items"]] == ["app.py"]


def test_get_unknown_template_is_404(sb):
    for ident in ["0" * 24, "not-an-id", "x" * 300]:
        response = sb.api("GET", f"customTemplates/{ident}/")
        assert response.status_code == 404
        assert "custom template" in response.json()["message"]


def test_template_files_are_readable_by_id(sb, seed_ids):
    upload = {
        "file": ("t.zip", zip_bytes({"app.py": "print('hi')\n", "conf/settings.yaml": "a: 1\n"}))
    }
    tid = create(sb, files=upload, name="With files").json()["customTemplateId"]
    items = sb.api("GET", f"customTemplates/{tid}/").json()["items"]
    assert sorted(i["name"] for i in items) == ["app.py", "conf/settings.yaml"]
    for item in items:
        body = sb.api("GET", f"customTemplates/{tid}/files/{item['id']}/").json()
        assert body["id"] == item["id"] and body["filename"] == item["name"]
    first = sb.api("GET", f"customTemplates/{tid}/files/{items[0]['id']}/").json()
    assert first["content"] == "print('hi')\n"
    assert sb.api("GET", f"customTemplates/{tid}/files/{'1' * 24}/").status_code == 404
    other = seed_ids[0]
    assert sb.api("GET", f"customTemplates/{other}/files/{items[0]['id']}/").status_code == 404
    sb.api("DELETE", f"customTemplates/{tid}/")


def test_binary_template_files_come_back_base64(sb):
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    upload = {"file": ("t.zip", zip_bytes({"docs/shot.png": png, "app.py": "print('é')\n"}))}
    tid = create(sb, files=upload, name="With an image").json()["customTemplateId"]
    items = {i["name"]: i["id"] for i in sb.api("GET", f"customTemplates/{tid}/").json()["items"]}
    image = sb.api("GET", f"customTemplates/{tid}/files/{items['docs/shot.png']}/").json()
    assert image["encoding"] == "base64" and base64.b64decode(image["content"]) == png
    text = sb.api("GET", f"customTemplates/{tid}/files/{items['app.py']}/").json()
    assert text["content"] == "print('é')\n" and "encoding" not in text
    sb.api("DELETE", f"customTemplates/{tid}/")


def test_readme_comes_from_readme_md_when_metadata_has_none(sb):
    upload = {"file": ("t.zip", zip_bytes({"README.md": "# Hello\n", "app.py": ""}))}
    tid = create(sb, files=upload, name="Readme").json()["customTemplateId"]
    template = sb.api("GET", f"customTemplates/{tid}/").json()
    sb.api("DELETE", f"customTemplates/{tid}/")
    assert template["templateMetadata"]["readme"] == "# Hello\n"


BAD_FIELDS = [
    ("name", {"name": "x" * 256}),
    ("name", {"name": "   "}),
    ("description", {"description": "d" * 10_001}),
    ("templateType", {"templateType": "t" * 256}),
    ("templateSubType", {"templateSubType": "s" * 256}),
    ("publisher", {"publisher": "p" * 256}),
    ("category", {"category": "c" * 256}),
    ("defaultResourceBundleId", {"defaultResourceBundleId": "cpu.gigantic"}),
    ("defaultEnvironment", {"defaultEnvironment": "{not json"}),
    ("defaultEnvironment", {"defaultEnvironment": json.dumps({"environmentId": "e"})}),
    ("defaultEnvironment", {"defaultEnvironment": "[1, 2]"}),
    ("enabled", {"enabled": "yes"}),
    ("templateMetadata", {"templateMetadata": "{oops"}),
    ("templateMetadata", {"templateMetadata": "[]"}),
    ("templateMetadata", {"templateMetadata": json.dumps({"readme": "r" * 1_048_577})}),
    ("templateMetadata", {"templateMetadata": json.dumps({"tags": ["t"] * 1001})}),
    ("templateMetadata", {"templateMetadata": json.dumps({"tags": [1, 2]})}),
    ("templateMetadata", {"templateMetadata": json.dumps({"classLabels": "a"})}),
    ("templateMetadata", {"templateMetadata": json.dumps({"source": "git"})}),
    ("templateMetadata", {"templateMetadata": '{"source": {"score": NaN}}'}),
    ("templateMetadata", {"templateMetadata": '{"source": {"score": 1e999}}'}),
    ("templateMetadata", {"templateMetadata": '{"source": {"x": "a\\ud800"}}'}),
    ("templateMetadata", {"templateMetadata": '{"tags": ["\\udfff"]}'}),
    ("defaultEnvironment", {"defaultEnvironment":
        '{"environmentId": "\\ud800", "environmentVersionId": "v"}'}),
    ("templateMetadata", {"templateMetadata": json.dumps(
        {"templateTypeSpecificResources": {"serviceWebRequestsOnRootPath": "yes"}})}),
]  # fmt: skip


@pytest.mark.parametrize(("field", "override"), BAD_FIELDS)
def test_create_rejects_each_bad_field_by_name(sb, field, override):
    before = sb.api("GET", "customTemplates/").json()["totalCount"]
    response = create(sb, **override)
    assert response.status_code == 422, response.text
    body = response.json()
    assert list(body["errors"]) == [field]
    assert field in body["message"]
    assert sb.api("GET", "customTemplates/").json()["totalCount"] == before


def test_create_names_every_missing_field_at_once(sb):
    response = sb.api("POST", "customTemplates/", data={"unrelated": "x"}, files={"x": ("a", b"")})
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {
        "name", "description", "templateType", "templateSubType", "defaultEnvironment", "file",
    }  # fmt: skip


def test_create_with_empty_body_or_wrong_content_type(sb):
    assert sb.api("POST", "customTemplates/").status_code == 422
    response = sb.api(
        "POST", "customTemplates/", data=b"<xml/>", headers={"Content-Type": "text/xml"}
    )
    assert response.status_code == 415 and response.json()["message"]
    broken = sb.api(
        "POST", "customTemplates/", data=b"--zzz\r\nbroken",
        headers={"Content-Type": "multipart/form-data; boundary=zzz"},
    )  # fmt: skip
    assert broken.status_code == 422


# -- update and delete -------------------------------------------------------------------------
@pytest.fixture
def scratch(sb):
    tid = create(sb, name="Scratch", publisher="Before").json()["customTemplateId"]
    yield tid
    sb.api("DELETE", f"customTemplates/{tid}/")


def test_patch_multipart_changes_only_given_fields(sb, scratch):
    before = sb.api("GET", f"customTemplates/{scratch}/").json()
    response = sb.api("PATCH", f"customTemplates/{scratch}/", files={"name": (None, "Renamed")})
    assert response.status_code == 200
    after = response.json()
    assert after["name"] == "Renamed" and after["description"] == before["description"]
    assert after["publisher"] == "Before" and after["items"] == before["items"]
    assert after["updatedAt"] > before["updatedAt"] and after["createdAt"] == before["createdAt"]
    assert sb.api("GET", f"customTemplates/{scratch}/").json()["name"] == "Renamed"


def test_patch_form_urlencoded_and_json(sb, scratch):
    r1 = sb.api("PATCH", f"customTemplates/{scratch}/", data={"enabled": "false", "category": "X"})
    assert r1.status_code == 200 and r1.json()["enabled"] is False and r1.json()["category"] == "X"
    meta = json.dumps({"tags": ["new"], "readme": "# New"})
    r2 = sb.api(
        "PATCH", f"customTemplates/{scratch}/", json={"templateMetadata": meta, "enabled": "true"}
    )
    assert r2.status_code == 200
    assert r2.json()["templateMetadata"]["tags"] == ["new"] and r2.json()["enabled"] is True


def test_patch_with_file_replaces_items(sb, scratch):
    upload = {"file": ("n.zip", zip_bytes({"main.js": "1", "package.json": "{}"}))}
    response = sb.api("PATCH", f"customTemplates/{scratch}/", files=upload)
    assert response.status_code == 200
    assert sorted(i["name"] for i in response.json()["items"]) == ["main.js", "package.json"]


def test_listing_shows_a_template_as_patched(sb, scratch):
    upload = {"file": ("n.zip", zip_bytes({"main.js": "1"}))}
    patched = sb.api(
        "PATCH", f"customTemplates/{scratch}/", files={**upload, "name": (None, "Relisted")}
    ).json()
    listed = sb.api("GET", "customTemplates/?search=Relisted").json()["data"]
    assert listed == [patched] == [sb.api("GET", f"customTemplates/{scratch}/").json()]
    assert [i["name"] for i in listed[0]["items"]] == ["main.js"]


def test_patch_errors(sb, scratch):
    bad = sb.api(
        "PATCH", f"customTemplates/{scratch}/", data={"name": "", "defaultResourceBundleId": "x"}
    )
    assert bad.status_code == 422
    assert set(bad.json()["errors"]) == {"name", "defaultResourceBundleId"}
    blank = sb.api("PATCH", f"customTemplates/{scratch}/", data={"name": "  "})
    assert blank.status_code == 422 and "name" in blank.json()["errors"]
    assert sb.api("PATCH", f"customTemplates/{scratch}/", data={}).status_code == 422
    assert sb.api("PATCH", f"customTemplates/{'0' * 24}/", data={"name": "x"}).status_code == 404
    for role in ("user", "viewer"):
        assert (
            sb.api(
                "PATCH", f"customTemplates/{scratch}/", role=role, data={"name": "x"}
            ).status_code
            == 403
        )


def test_delete_is_204_then_404(sb):
    tid = create(sb, name="Doomed").json()["customTemplateId"]
    assert sb.api("DELETE", f"customTemplates/{tid}/", role="user").status_code == 403
    response = sb.api("DELETE", f"customTemplates/{tid}/")
    assert response.status_code == 204 and response.content == b""
    assert response.headers.get("X-DataRobot-Request-ID")
    assert sb.api("GET", f"customTemplates/{tid}/").status_code == 404
    assert sb.api("DELETE", f"customTemplates/{tid}/").status_code == 404


@pytest.mark.parametrize("role", ["user", "viewer"])
def test_only_admins_create_templates(sb, role):
    response = create(sb, role=role, name="Not allowed")
    assert response.status_code == 403
    assert role in response.json()["message"]
    assert "Not allowed" not in names(sb.api("GET", "customTemplates/?search=allowed"))


@pytest.mark.parametrize("role", ["admin", "user", "viewer"])
def test_every_role_reads_templates(sb, role, seed_ids):
    assert sb.api("GET", "customTemplates/", role=role).json()["totalCount"] >= len(SEED)
    assert sb.api("GET", f"customTemplates/{seed_ids[0]}/", role=role).status_code == 200


# -- listing -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("search=chat", {"Alpha Chat", "Gamma Metric"}),
        ("search=FORECAST", {"beta Forecast"}),
        ("tag=llm", {"Alpha Chat", "Gamma Metric"}),
        ("tag=chat", {"Alpha Chat", "epsilon Slack"}),
        (
            "templateType=customApplicationTemplate",
            {"Alpha Chat", "beta Forecast", "epsilon Slack"},
        ),
        ("templateSubType=llm", {"Gamma Metric"}),
        ("publisher=Community", {"beta Forecast", "epsilon Slack"}),
        ("category=MLOps", {"Delta Job"}),
        ("publisher=DataRobot&tag=llm&templateType=customMetricTemplate", {"Gamma Metric"}),
        ("search=nothing-matches-this", set()),
    ],
)
def test_list_filters(sb, query, expected):
    response = sb.api("GET", f"customTemplates/?{query}")
    assert set(names(response)) & {f["name"] for f in SEED} == expected
    assert response.json()["totalCount"] == len(names(response))


@pytest.mark.parametrize(
    "order",
    [
        None,
        "name",
        "-name",
        "-createdAt",
        "templateType",
        "-templateType",
        "templateSubType",
        "-templateSubType",
    ],
)
def test_every_order_reads_an_index_instead_of_sorting(tmp_path, order):
    from dr_notebook.sandbox.store.database import Store, TemplateQuery

    store = Store(tmp_path / "plan.db")
    statements: list[str] = []
    store._db.set_trace_callback(statements.append)
    store.list_template_bodies(TemplateQuery(order_by=order, offset=50, limit=10))
    store._db.set_trace_callback(None)
    (page,) = [s for s in statements if "ORDER BY" in s]
    plan = " ".join(row[3] for row in store._db.execute(f"EXPLAIN QUERY PLAN {page}"))
    store.close()
    assert "INDEX" in plan and "TEMP B-TREE" not in plan, plan


@pytest.mark.parametrize(
    ("order", "key", "reverse"),
    [
        ("name", lambda t: t["name"].lower(), False),
        ("-name", lambda t: t["name"].lower(), True),
        ("createdAt", lambda t: t["createdAt"], False),
        ("-createdAt", lambda t: t["createdAt"], True),
        ("templateType", lambda t: t["templateType"], False),
        ("-templateType", lambda t: t["templateType"], True),
        ("templateSubType", lambda t: t["templateSubType"], False),
        ("-templateSubType", lambda t: t["templateSubType"], True),
    ],
)
def test_list_order_by(sb, order, key, reverse):
    data = sb.api("GET", f"customTemplates/?orderBy={order}").json()["data"]
    assert len(data) >= len(SEED)
    assert [key(t) for t in data] == sorted((key(t) for t in data), reverse=reverse)


@pytest.mark.parametrize(
    "query",
    ["orderBy=template_type", "orderBy=foo", "orderBy=", "limit=0", "limit=101", "limit=-1",
     "limit=abc", "offset=-1", "offset=x", "offset=1.5", "offset=99999999999999999999999"],
)  # fmt: skip
def test_list_rejects_bad_parameters_with_422_naming_them(sb, query):
    response = sb.api("GET", f"customTemplates/?{query}")
    assert response.status_code == 422
    assert query.split("=")[0] in response.json()["errors"]


def test_pagination_links_are_absolute_and_keep_filters(sb):
    first = sb.api(
        "GET", "customTemplates/?templateType=customApplicationTemplate&orderBy=name&limit=1"
    )
    body = first.json()
    assert body["count"] == 1 and body["totalCount"] == 3 and body["previous"] is None
    seen = [body["data"][0]["name"]]
    url = body["next"]
    assert url.startswith(sb.endpoint + "/customTemplates/")
    assert "templateType=customApplicationTemplate" in url and "orderBy=name" in url
    while url:
        page = sb.api("GET", url).json()
        seen += [t["name"] for t in page["data"]]
        assert page["previous"].startswith(sb.endpoint) and "orderBy=name" in page["previous"]
        url = page["next"]
    assert seen == ["Alpha Chat", "beta Forecast", "epsilon Slack"]


def test_offset_past_the_end_is_an_empty_page(sb):
    body = sb.api("GET", "customTemplates/?offset=1000&limit=10").json()
    assert body["data"] == [] and body["count"] == 0 and body["next"] is None
    assert "offset=990" in body["previous"]


def test_default_limit_is_100(sb_many):
    body = sb_many.api("GET", "customTemplates/").json()
    assert body["count"] == 100 and body["totalCount"] == 150 and body["next"]
    assert len(sb_many.api("GET", body["next"]).json()["data"]) == 50


@pytest.fixture(scope="module")
def sb_many():
    from dr_notebook.sandbox.testing import start_sandbox

    with start_sandbox(demo=False, generate=150, seed=7) as server:
        yield server


def test_search_and_tags_fold_case_beyond_ascii(sb):
    meta = json.dumps({"tags": ["Ünicode"]})
    tid = create(sb, name="Überblick Análisis", templateMetadata=meta).json()["customTemplateId"]
    try:
        assert names(sb.api("GET", "customTemplates/?search=ÜBERBLICK")) == ["Überblick Análisis"]
        assert names(sb.api("GET", "customTemplates/?tag=ünicode")) == ["Überblick Análisis"]
    finally:
        sb.api("DELETE", f"customTemplates/{tid}/")


def test_patch_with_blank_publisher_clears_it(sb, scratch):
    response = sb.api("PATCH", f"customTemplates/{scratch}/", data={"publisher": ""})
    assert response.status_code == 200 and response.json()["publisher"] is None

    def ids(query: str) -> list[str]:
        return [t["id"] for t in sb.api("GET", f"customTemplates/?{query}").json()["data"]]

    assert scratch not in ids("publisher=Before")
    assert scratch in ids("publisher=")  # an empty filter filters nothing


def test_json_body_with_nan_is_422(sb, scratch):
    response = sb.api(
        "PATCH",
        f"customTemplates/{scratch}/",
        data='{"name": "x", "score": NaN}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422 and "body" in response.json()["errors"]


# Values JSON can carry in but not back out: overflowing numbers and lone surrogates.
UNSTORABLE = [
    ("name", '{"name": "a\\ud800"}', "Unicode"),
    ("publisher", '{"publisher": "\\udfff"}', "Unicode"),
    ("templateMetadata", '{"templateMetadata": {"source": {"x": 1e999}}}', "source.x"),
    ("templateMetadata", '{"templateMetadata": {"source": {"x": -1e999}}}', "finite"),
    ("templateMetadata", '{"templateMetadata": "{\\"source\\": {\\"x\\": 1e999}}"}', "finite"),
    ("templateMetadata", '{"templateMetadata": {"tags": ["ok", "a\\ud800"]}}', "tags[1]"),
    ("templateMetadata", '{"templateMetadata": {"readme": "\\ud800"}}', "readme"),
    ("templateMetadata", '{"templateMetadata": {"source": {"\\ud800": 1}}}', "keys"),
    ("defaultEnvironment", '{"defaultEnvironment": {"environmentId": "\\ud800", '
     '"environmentVersionId": "v"}}', "environmentId"),
]  # fmt: skip


@pytest.mark.parametrize("method", ["POST", "PATCH"])
@pytest.mark.parametrize(
    ("field", "body", "problem"), UNSTORABLE, ids=[f"{f}-{p}" for f, _, p in UNSTORABLE]
)
def test_json_values_that_cannot_be_stored_are_422_naming_the_field(
    sb, scratch, method, field, body, problem
):
    before = sb.api("GET", f"customTemplates/{scratch}/").json()
    total = sb.api("GET", "customTemplates/").json()["totalCount"]
    if method == "POST":
        fields = {**form(), "file": "print(1)"}
        # The bad value comes last, so it wins over a good one of the same name.
        body, path = json.dumps(fields)[:-1] + ", " + body[1:], "customTemplates/"
    else:
        path = f"customTemplates/{scratch}/"
    response = requests.request(
        method, f"{sb.endpoint}/{path}", data=body, timeout=30,
        headers={**sb.auth_headers(), "Content-Type": "application/json"},
    )  # fmt: skip
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert list(errors) == [field] and problem in errors[field]
    assert sb.api("GET", f"customTemplates/{scratch}/").json() == before
    assert sb.api("GET", "customTemplates/").json()["totalCount"] == total


def test_json_file_content_that_is_not_unicode_is_422(sb):
    body = json.dumps(form())[:-1] + ', "file": "a\\ud800"}'
    response = requests.post(
        f"{sb.endpoint}/customTemplates/", data=body, timeout=30,
        headers={**sb.auth_headers(), "Content-Type": "application/json"},
    )  # fmt: skip
    assert response.status_code == 422, response.text
    assert list(response.json()["errors"]) == ["file"]


def test_database_of_an_older_sandbox_is_upgraded(tmp_path):
    """Databases written before templates kept their API JSON still list and read the same."""
    import sqlite3

    from dr_notebook.sandbox.testing import start_sandbox

    db = tmp_path / "old.db"
    with start_sandbox(db_path=db, demo=False, generate=30, seed=3) as server:
        before = server.api("GET", "customTemplates/?orderBy=name").json()
    with sqlite3.connect(db) as old:
        old.execute("ALTER TABLE templates DROP COLUMN body")
    with start_sandbox(db_path=db, demo=False) as server:
        after = server.api("GET", "customTemplates/?orderBy=name").json()
        one = server.api("GET", f"customTemplates/{before['data'][0]['id']}/").json()
    assert after == before and one == before["data"][0]
