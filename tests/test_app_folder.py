"""drn.check_app_folder: each finding, the limits, %dr_check, and uploads that refuse a folder
with errors before anything reaches the sandbox."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import dr_notebook as drn
from dr_notebook import errors
from dr_notebook.resources import app_folder
from dr_notebook.sandbox.service import uploads

GOOD_START = '#!/usr/bin/env bash\nexec python -m http.server "${PORT:-8080}"\n'


def folder_with(tmp_path: Path, files: dict[str, str | bytes]) -> Path:
    root = tmp_path / f"app-{uuid.uuid4().hex[:6]}"
    for name, content in {"start-app.sh": GOOD_START, **files}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content)
        else:
            path.write_bytes(content)
    return root


def messages(found: list[drn.Finding], level: str = "error") -> list[str]:
    return [f"{f.path}:{f.line}: {f.message}" for f in found if f.level == level]


def test_a_good_folder_and_every_demo_application_have_no_finding(tmp_path: Path) -> None:
    assert drn.check_app_folder(folder_with(tmp_path, {"requirements.txt": "flask>=3\n"})) == []
    catalogue = Path(app_folder.__file__).parents[1] / "sandbox" / "catalogue"
    for start in catalogue.glob("*/files/start-app.sh"):
        assert drn.check_app_folder(start.parent) == [], start.parent


def test_start_script_missing_crlf_and_no_shebang(tmp_path: Path) -> None:
    root = folder_with(tmp_path, {"app.py": "print(1)\n"})
    (root / "start-app.sh").unlink()
    assert messages(drn.check_app_folder(root)) == [
        "start-app.sh:None: missing: DataRobot starts the application with this script"
    ]
    crlf = folder_with(tmp_path, {"start-app.sh": "#!/bin/sh\nset -e\r\nexec app\r\n"})
    [found] = drn.check_app_folder(crlf)
    assert (found.level, found.path, found.line) == ("error", "start-app.sh", 2)
    assert "CRLF" in found.message
    bare = folder_with(tmp_path, {"start-app.sh": "exec python app.py\n"})
    assert messages(drn.check_app_folder(bare)) == [
        "start-app.sh:1: no shebang: the first line must be e.g. #!/usr/bin/env bash"
    ]


def test_requirements_pip_cannot_parse_or_outside_the_folder(tmp_path: Path) -> None:
    text = (
        "# comment\n"
        "flask>=3  # trailing comment\n"
        "--index-url https://pypi.org/simple\n"
        "-r more.txt\n"
        "requests==2.*,<3 --hash=sha256:abc\n"
        "pandas = 2.2\n"  # not a requirement
        "-e ../shared\n"
        "numpy @ file:///home/me/numpy.whl\n"
        "https://example.com/pkg-1.0-py3-none-any.whl\n"
        "-c missing.txt\n"
        "--frobnicate\n"
        "uvicorn[standard] \\\n"
        "  >=0.30\n"
    )
    root = folder_with(tmp_path, {"requirements.txt": text, "more.txt": "ok==1\nbad name!\n"})
    found = messages(drn.check_app_folder(root))
    assert found[0].startswith("more.txt:2: 'bad name!': pip cannot parse it (Expected")  # -r
    assert "\n" not in found[0]
    assert found[1].startswith("requirements.txt:6: 'pandas = 2.2': pip cannot parse it")
    assert found[2].startswith("requirements.txt:7: '-e ../shared': points outside the folder")
    assert found[3].startswith("requirements.txt:8: 'numpy @ file:///home/me/numpy.whl': points")
    assert found[4] == "requirements.txt:10: '-c missing.txt': missing.txt is not in the folder"
    assert found[5] == (
        "requirements.txt:11: '--frobnicate': pip does not know the option --frobnicate"
    )
    assert len(found) == 6, found


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ("name: [unclosed\n", "not valid YAML"),
        ("- a list\n", "must be a mapping"),
        ("runtimeParameterDefinitions: {MODEL: x}\n", "must be a list of parameters"),
        ("runtimeParameterDefinitions:\n  - type: string\n", "fieldName must be letters"),
        ("runtimeParameterDefinitions:\n  - fieldName: K\n    type: text\n", "type must be one of"),
    ],
)
def test_metadata_not_yaml_or_not_the_runtime_parameter_schema(
    tmp_path: Path, metadata: str, expected: str
) -> None:
    [found] = drn.check_app_folder(folder_with(tmp_path, {"metadata.yaml": metadata}))
    assert found.level == "error" and found.path == "metadata.yaml" and expected in found.message
    good = "runtimeParameterDefinitions:\n  - fieldName: K\n    type: credential\n"
    assert drn.check_app_folder(folder_with(tmp_path, {"metadata.yaml": good})) == []


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("streamlit run app.py --server.port 8501", ["port 8501"]),
        ("streamlit run app.py --server.port=8080 --server.address=localhost", ["binds localhost"]),
        ("gunicorn -b 127.0.0.1:8000 app:app", ["port 8000", "binds 127.0.0.1"]),
        ('gunicorn --bind "0.0.0.0:${PORT:-9000}" app:app', ["port 9000"]),
        ("uvicorn main:app --host 0.0.0.0", ["port 8000"]),
        ("uvicorn main:app --port 8080", ["binds 127.0.0.1"]),
        ("flask run", ["port 5000", "binds 127.0.0.1"]),
        ("python -m flask --app app run --host 0.0.0.0 --port 8080", []),
        ("python -m http.server", ["port 8000"]),
        ("python3 -m http.server 8080 --bind 127.0.0.1", ["binds 127.0.0.1"]),
        ("exec uvicorn main:app \\\n  --host 0.0.0.0 \\\n  --port 8081", ["port 8081"]),
        ("python app.py --port 1234", []),  # not one of the usual servers: not guessed at
    ],
)
def test_ports_and_binds_of_the_usual_servers_are_warnings(
    tmp_path: Path, command: str, expected: list[str]
) -> None:
    root = folder_with(tmp_path, {"start-app.sh": f"#!/usr/bin/env bash\nset -e\n{command}\n"})
    found = drn.check_app_folder(root)
    assert all(f.level == "warning" and f.line == 3 for f in found), found
    assert len(found) == len(expected), found
    for finding, words in zip(found, expected, strict=True):
        assert words in finding.message


def test_limits_are_the_sandbox_s_and_dr_apps_ignore_is_honoured(tmp_path: Path) -> None:
    assert app_folder.MAX_FILES == uploads.MAX_FILES
    assert app_folder.MAX_FILE_BYTES == uploads.MAX_FILE_BYTES
    assert app_folder.MAX_TOTAL_BYTES == uploads.MAX_TOTAL_BYTES
    big = b"x" * (app_folder.MAX_FILE_BYTES + 1)
    root = folder_with(tmp_path, {"data/big.bin": big})
    root.joinpath("data/more").mkdir()
    for n in range(app_folder.MAX_FILES):
        root.joinpath(f"data/more/{n}.txt").write_text("")
    found = messages(drn.check_app_folder(root))
    assert any(m.startswith(f"data/big.bin:None: {len(big)} bytes") for m in found), found
    assert any(m.startswith(f".:None: {app_folder.MAX_FILES + 2} files") for m in found), found
    # as drapps: what .dr_apps_ignore lists is not uploaded, so not checked
    root.joinpath(".dr_apps_ignore").write_text("# local data\ndata/\n")
    root.joinpath("scratch").mkdir()
    root.joinpath("scratch/requirements.txt").write_text("not a requirement!\n")
    assert drn.check_app_folder(root) == []


def test_findings_make_a_data_frame_and_print_one_line_each(tmp_path: Path) -> None:
    root = folder_with(tmp_path, {"start-app.sh": "streamlit run a.py --server.port 1\n"})
    found = drn.check_app_folder(root)
    frame = pd.DataFrame(found)
    assert list(frame.columns) == ["level", "path", "line", "message"]
    assert list(frame["level"]) == ["error", "warning"]  # errors first
    assert str(found[0]) == "error: start-app.sh:1: no shebang: the first line must be e.g. " \
        "#!/usr/bin/env bash"  # fmt: skip
    with pytest.raises(errors.InvalidArgumentError, match="is not a folder"):
        drn.check_app_folder(root / "start-app.sh")


# -- uploads refuse a folder with errors, before any request -----------------------------------


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    return folder_with(tmp_path, {"start-app.sh": "#!/bin/sh\r\nexec app\r\n",
                                  "requirements.txt": "flask\nnot a requirement!\n"})  # fmt: skip


def writes(sandbox: Any) -> list[str]:
    return [f"{r['method']} {r['path']}" for r in sandbox.stats()["requests"]]


def test_an_upload_with_errors_sends_nothing(
    client: drn.Client, sandbox: Any, broken: Path
) -> None:
    source = client.app_sources.create(f"Checked {uuid.uuid4().hex[:6]}")
    sandbox.reset_stats()
    with pytest.raises(errors.AppFolderError) as caught:
        client.app_sources.new_version(source, broken)
    err = caught.value
    assert isinstance(err, errors.DataRobotError) and isinstance(err, ValueError)
    assert "start-app.sh:1: CRLF" in str(err) and "requirements.txt:2: 'not a requirement!'" in str(
        err
    )
    assert [f.level for f in err.findings] == ["error", "error"]
    with pytest.raises(errors.AppFolderError):
        client.templates.create(
            f"T {uuid.uuid4().hex[:6]}", description="d", file=broken,
            template_type="application", template_sub_type="python",
            default_environment=("a", "b"),
        )  # fmt: skip
    assert writes(sandbox) == []  # not one request: no version, no template
    # the positive control: the folder fixed, the same calls send it
    (broken / "start-app.sh").write_text(GOOD_START)
    (broken / "requirements.txt").write_text("flask\n")
    version = client.app_sources.new_version(source, broken)
    assert {item.file_path for item in version.items} >= {"start-app.sh", "requirements.txt"}
    assert any(w.startswith("POST") for w in writes(sandbox))
    client.app_sources.delete(source)


def test_on_top_of_a_base_version_a_missing_start_script_is_no_error(
    client: drn.Client, tmp_path: Path
) -> None:
    source = client.app_sources.create(f"Based {uuid.uuid4().hex[:6]}")
    client.app_sources.new_version(source, {"start-app.sh": GOOD_START}, base_version=None)
    part = tmp_path / "part"
    part.mkdir()
    (part / "app.py").write_text("print(2)\n")
    version = client.app_sources.new_version(source, part)  # on "latest"
    assert {item.file_path for item in version.items} == {"start-app.sh", "app.py"}
    with pytest.raises(errors.AppFolderError, match=r"start-app\.sh: missing"):
        client.app_sources.new_version(source, part, base_version=None)
    client.app_sources.delete(source)


def test_a_sync_of_a_folder_with_errors_sends_nothing(
    client: drn.Client, sandbox: Any, broken: Path
) -> None:
    source = client.app_sources.create(f"Synced {uuid.uuid4().hex[:6]}")
    client.app_sources.new_version(source, {"start-app.sh": GOOD_START}, base_version=None)
    app = client.applications.create(source, name=f"checked-{uuid.uuid4().hex[:6]}")
    sandbox.reset_stats()
    with pytest.raises(errors.AppFolderError, match="CRLF"):
        client.applications.sync(app, broken)
    assert writes(sandbox) == []
    client.applications.delete(app)
