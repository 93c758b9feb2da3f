"""requirements.txt checks against the running Python environment (nothing is installed)."""

from __future__ import annotations

import json
from importlib import metadata

from dr_notebook.sandbox.runtime.requirements import check_requirements, describe
from dr_notebook.sandbox.source_store import SourceStore
from dr_notebook.sandbox.store import NewTemplate, Store

PYTEST = metadata.version("pytest")


def test_installed_missing_and_mismatched_distributions():
    report = check_requirements(
        f"# a comment\npytest=={PYTEST}\n\nrequests>=2  # inline comment\n"
        "surely-not-installed-dist==1.0\nanother_missing_one\npytest<1\n"
    )
    assert report.missing == ["surely-not-installed-dist", "another_missing_one"]
    assert report.mismatched == [f"pytest {PYTEST} (needs <1)"]
    assert not report.ok
    assert describe(report)[0] == (
        "Missing Python distributions: surely-not-installed-dist, another_missing_one"
    )


def test_markers_options_and_unreadable_lines():
    report = check_requirements(
        'not-installed-anywhere; python_version < "3"\n-r other.txt\n--index-url x\nflask[[\n'
    )
    assert report.missing == []  # the marker leaves it out
    assert report.skipped == ["line 2: -r other.txt", "line 3: --index-url x"]
    assert report.unreadable and report.unreadable[0].startswith("line 4:")
    assert not report.ok


def installed(name):
    try:
        metadata.version(name)
    except metadata.PackageNotFoundError:
        return False
    return True


def test_an_extra_brings_its_own_requirements():
    # requests[socks] needs PySocks besides requests: the check reads what the extra adds.
    report = check_requirements("requests[socks]\n")
    assert report.missing == ([] if installed("PySocks") else ["PySocks"])
    assert check_requirements("requests\n").missing == []


def test_sources_of_an_older_sandbox_get_their_version_and_files(tmp_path):
    store = Store(tmp_path / "old.db")
    template = NewTemplate(
        name="Old", description="d", template_type="customApplicationTemplate",
        template_sub_type="flask", files=[("app.py", b"print(1)"), ("start-app.sh", b"#!/bin/sh")],
    )  # fmt: skip
    store.insert_templates([template])
    version = {
        "id": "v" * 24, "label": "v1", "isFrozen": False, "baseEnvironmentId": "e",
        "baseEnvironmentVersionId": "ev", "createdAt": "2024-01-01T00:00:00.000000Z",
        "updatedAt": "2024-01-01T00:00:00.000000Z", "userId": "u", "createdBy": "a@b",
        "creatorFirstName": "A", "creatorLastName": "B", "creatorUserhash": "h",
        "items": [{"id": f"i{n}" + "0" * 22, "fileName": name, "filePath": name,
                   "created": "2024-01-01T00:00:00.000000Z"}
                  for n, name in enumerate(["app.py", "start-app.sh"])],
    }  # fmt: skip
    body = {"id": "s" * 24, "name": "Old source", "createdAt": version["createdAt"],
            "updatedAt": version["createdAt"], "latestVersion": version}  # fmt: skip
    store.db.execute(
        "INSERT INTO sources VALUES (?, ?, ?, ?, ?, ?)",
        (body["id"], body["name"], template.id, body["createdAt"], body["updatedAt"],
         json.dumps(body)),
    )  # fmt: skip
    sources = SourceStore(store)
    sources.migrate()
    sources.migrate()  # a second run finds nothing to do
    source = sources.get_source("s" * 24)
    assert source is not None
    latest = source["latestVersion"]
    assert latest["id"] == "v" * 24 and latest["baseEnvironmentId"] == "e"
    assert [i["id"] for i in latest["items"]] == ["i0" + "0" * 22, "i1" + "0" * 22]
    assert sources.files("v" * 24) == [("app.py", b"print(1)"), ("start-app.sh", b"#!/bin/sh")]
    assert sources.list_versions("s" * 24, 0, 10)[1] == 1
    store.close()
