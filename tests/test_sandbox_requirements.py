"""requirements.txt checks against the running Python environment (nothing is installed)."""

from __future__ import annotations

import json
from importlib import metadata

from dr_notebook.sandbox.runtime.requirements import check_requirements, describe
from dr_notebook.sandbox.service.versions import VERSION_RULES
from dr_notebook.sandbox.store.database import NewTemplate, Store
from dr_notebook.sandbox.store.sources import SourceStore

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
    assert report.skipped == ["requirements.txt line 3: --index-url x"]
    assert report.unreadable[0] == "requirements.txt line 2: the application has no file other.txt"
    assert report.unreadable[1].startswith("requirements.txt line 4:")
    assert not report.ok


def test_the_check_reads_what_pip_reads():
    text = (
        "\ufeffpytest  # a BOM first, a comment after whitespace\n"
        "# a comment line\n"
        "surely-not-installed-a \\\n"
        "    >=1.0 \\\n"
        "    --hash=sha256:0123456789abcdef\n"
        "surely-not-installed-c==1\t# after a tab\n"
        "-r extra/more.txt\n"
        "--index-url https://example.invalid/simple\n"
    )
    files = {
        "requirements.txt": text.encode("utf-8"),
        "extra/more.txt": b"surely-not-installed-b\n-r ../requirements.txt\n",
    }
    report = check_requirements(files=files)
    assert report.missing == [
        "surely-not-installed-a",
        "surely-not-installed-c",
        "surely-not-installed-b",
    ]
    assert report.unreadable == []
    assert report.skipped == ["requirements.txt line 8: --index-url https://example.invalid/simple"]


def test_urls_and_paths_cannot_be_checked_offline_and_do_not_fail():
    report = check_requirements(
        "./vendored/pkg\nhttps://example.invalid/x-1.0-py3-none-any.whl\n"
        "name @ git+https://example.invalid/a/b\n-e .\nwheels/y-1.0.tar.gz\n"
    )
    assert report.ok and report.missing == [] and report.unreadable == []
    assert [line.split(": ", 1)[0] for line in report.unchecked] == [
        f"requirements.txt line {n}" for n in range(1, 6)
    ]
    assert all("cannot be checked offline" in line for line in report.unchecked)
    assert "(a path: " in report.unchecked[0] and "(a URL: " in report.unchecked[1]
    assert describe(report)[-1].startswith("Cannot be checked offline: ")


def test_an_include_outside_the_application_is_refused():
    report = check_requirements(files={"requirements.txt": b"-r ../../etc/passwd\n"})
    assert report.unreadable == [
        "requirements.txt line 1: ../../etc/passwd is outside the application"
    ]


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
    sources = SourceStore(store, VERSION_RULES)
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
