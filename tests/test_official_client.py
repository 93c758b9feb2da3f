"""DataRobot's own Python client (PyPI ``datarobot``), unchanged, against the sandbox."""

from __future__ import annotations

import warnings

import datarobot as dr
import pytest
from datarobot.client import Client as OfficialClient
from datarobot.client import set_client
from datarobot.enums import ListCustomTemplatesSortQueryParams as Order
from datarobot.models.custom_templates import CustomTemplate, DefaultEnvironment, TemplateMetadata


@pytest.fixture(scope="module")
def sb():
    from dr_notebook.sandbox.testing import start_sandbox

    with start_sandbox(generate=240, seed=21) as server:
        yield server


@pytest.fixture
def client(sb):
    with warnings.catch_warnings():
        warnings.simplefilter(
            "error", UserWarning
        )  # e.g. "Client version is ahead of server version"
        OfficialClient(endpoint=sb.endpoint, token=sb.token)
    yield
    # Forget the global client the test configured (None is what the SDK starts with).
    set_client(None)  # pyright: ignore[reportArgumentType]


def all_via_http(sb, **params):
    params = {k: v for k, v in params.items() if v is not None}
    url, found = "customTemplates/", []
    while url:
        body = sb.api("GET", url, params=params if url == "customTemplates/" else None).json()
        found += [t["id"] for t in body["data"]]
        url = body["next"]
    return found


def test_lists_every_page_with_filters_and_order(sb, client):
    everything = CustomTemplate.list()
    assert len(everything) == sb.api("GET", "customTemplates/").json()["totalCount"] > 100
    sb.reset_stats()
    apps = CustomTemplate.list(
        template_type="customApplicationTemplate", order_by=Order.NAME_DESCENDING
    )
    assert sb.stats()["counts"]["GET customTemplates/"] == 2  # followed `next` once
    assert [t.id for t in apps] == all_via_http(
        sb, templateType="customApplicationTemplate", orderBy="-name"
    )
    assert len(apps) > 100
    assert {t.template_type for t in apps} == {"customApplicationTemplate"}
    names = [t.name.lower() for t in apps]
    assert names == sorted(names, reverse=True)
    narrow = CustomTemplate.list(
        search="a",
        tag="llm",
        publisher="Community",
        category="Generative AI",
        order_by=Order.NAME_ASCENDING,
    )
    expected = all_via_http(
        sb, search="a", tag="llm", publisher="Community", category="Generative AI", orderBy="name"
    )
    assert [t.id for t in narrow] == expected and expected
    page = CustomTemplate.list(offset=5, limit=3, order_by=Order.NAME_ASCENDING)
    assert [t.id for t in page] == all_via_http(sb, orderBy="name")[5:8]


def test_demo_catalogue_parses_in_the_official_client(sb, client):
    demo = [t for t in CustomTemplate.list() if "generator" not in t.template_metadata["source"]]
    assert len(demo) >= 30
    for template in demo:
        assert template.default_environment["environment_id"]
        assert template.items and template.template_sub_type


def test_get_create_from_folder_update_and_delete(sb, client, tmp_path):
    folder = tmp_path / "my-app"
    (folder / "static").mkdir(parents=True)
    (folder / "app.py").write_text("import streamlit as st\nst.title('Mine')\n")
    (folder / "static" / "style.css").write_text("body { margin: 0 }\n")
    (folder / "README.md").write_text("# My app\n\nMade with the official client.\n")

    created = CustomTemplate.create(
        name="Official Client App",
        description="Created by datarobot.CustomTemplate.create",
        template_type="customApplicationTemplate",
        template_sub_type="streamlit",
        template_metadata=TemplateMetadata(
            tags=["official", "client"], resource_bundle_ids=["cpu.small"]
        ),
        default_environment=DefaultEnvironment(
            "65f0a1b2c3d4e5f6a7b8c9d0", "65f0a1b2c3d4e5f6a7b8c9d1"
        ),
        file=str(folder),
        default_resource_bundle_id="cpu.small",
        enabled=True,
    )
    assert len(created.id) == 24 and created.name == "Official Client App"
    assert sorted(i["name"] for i in created.items) == ["README.md", "app.py", "static/style.css"]
    assert created.template_metadata["tags"] == ["official", "client"]
    assert created.default_environment["environment_version_id"] == "65f0a1b2c3d4e5f6a7b8c9d1"
    assert (
        created.download_content(filename="app.py") == b"import streamlit as st\nst.title('Mine')\n"
    )

    fetched = CustomTemplate.get(created.id)
    assert fetched.id == created.id and fetched.default_resource_bundle_id == "cpu.small"
    assert [t.id for t in CustomTemplate.list(tag="official")] == [created.id]

    fetched.update(name="Renamed by client", description="new description", enabled=False)
    again = CustomTemplate.get(created.id)
    assert (again.name, again.description, again.enabled) == (
        "Renamed by client",
        "new description",
        False,
    )
    fetched.update(template_metadata=TemplateMetadata(tags=["updated"], readme="# Updated"))
    assert CustomTemplate.get(created.id).template_metadata["readme"] == "# Updated"
    fetched.update(file=str(folder / "app.py"))
    assert [i["name"] for i in CustomTemplate.get(created.id).items] == ["template-content"]

    fetched.delete()
    with pytest.raises(dr.errors.ClientError) as caught:
        CustomTemplate.get(created.id)
    assert caught.value.status_code == 404


def test_errors_reach_the_official_client_as_client_errors(sb, client):
    with pytest.raises(dr.errors.ClientError) as caught:
        CustomTemplate.list(order_by="no-such-order")  # pyright: ignore[reportArgumentType]
    assert caught.value.status_code == 422
    OfficialClient(endpoint=sb.endpoint, token=sb.tokens["viewer"])
    with pytest.raises(dr.errors.ClientError) as denied:
        CustomTemplate.get(CustomTemplate.list(limit=1, offset=0)[0].id).delete()
    assert denied.value.status_code == 403


def test_official_client_drives_sources_and_applications(client, sb):
    from datarobot.models.custom_application import CustomApplication
    from datarobot.models.custom_application_source import CustomApplicationSource

    created = CustomApplicationSource.create(name="From the official client")
    assert created.latest_version is not None
    assert (
        created.name == "From the official client" and created.latest_version["is_frozen"] is False
    )
    version_id = created.latest_version["id"]
    script = b'#!/usr/bin/env bash\nexec python -m http.server "$PORT"\n'
    upload = sb.api(
        "PATCH", f"customApplicationSources/{created.id}/versions/{version_id}/",
        files=[("file", ("start-app.sh", script)), ("file", ("app.py", b"print('hi')\n"))],
        data=[("filePath", "start-app.sh"), ("filePath", "app.py")],
    )  # fmt: skip
    assert upload.status_code == 200

    fetched = CustomApplicationSource.get(created.id)
    assert fetched.id == created.id and fetched.permissions
    assert created.id in [s.id for s in CustomApplicationSource.list()]
    renamed = fetched.update(name="Renamed source")
    assert renamed.name == "Renamed source" == CustomApplicationSource.get(created.id).name
    with_resources = renamed.update_resources(resource_label="cpu.medium", replicas=2)
    resources = with_resources.get_resources()
    assert resources is not None and resources["replicas"] == 2

    versions = renamed.get_versions()
    assert [v["id"] for v in versions] == [version_id]
    version = renamed.get_version(version_id)
    items = {i["filePath"]: i for i in version["items"]}
    assert set(items) == {"start-app.sh", "app.py"}
    content = renamed.get_file(version_id, items["app.py"]["id"])
    assert content["fileName"] == "app.py" and content["content"] == "print('hi')\n"

    app = renamed.create_application("Official app")  # 202, then the status's 303
    assert isinstance(app, CustomApplication) and app.name == "Official app"
    assert app.custom_application_source_id == created.id
    assert app.application_url.endswith(f"/custom_applications/{app.id}/")
    app_resources = app.get_resources()
    assert app_resources is not None and app_resources["replicas"] == 2
    assert app.id in [a.id for a in CustomApplication.list()]
    again = CustomApplication.get(app.id)
    assert again.status in ("building", "running") and again.permissions
    logs = again.get_logs()
    assert set(logs) >= {"logs", "buildLog", "buildStatus"}
    assert renamed.get_version(version_id)["isFrozen"] is True

    again.delete()
    with pytest.raises(dr.errors.ClientError) as gone:
        CustomApplication.get(app.id)
    assert gone.value.status_code == 404
    renamed.delete(hard_delete=True)
    with pytest.raises(dr.errors.ClientError) as deleted:
        CustomApplicationSource.get(created.id)
    assert deleted.value.status_code == 404
