"""An application template whose build fails (a requirement no index has), for failure tests."""

from __future__ import annotations

import json
from typing import Any

from archives import zip_of

NAME = "Broken Requirements App"
UNKNOWN = "surely-no-such-dist-4711"


def publish_broken_app(sb: Any) -> str:
    """Publish the template to the sandbox (once); its name."""
    found = sb.api("GET", "customTemplates/", params={"search": NAME}).json()["data"]
    if any(t["name"] == NAME for t in found):
        return NAME
    files = zip_of({
        "start-app.sh": b'#!/usr/bin/env bash\nexec python -m http.server "${PORT:-8080}"\n',
        "requirements.txt": f"flask\n{UNKNOWN}==1.0\n".encode(),
    })  # fmt: skip
    fields = {
        "name": NAME, "description": "Its requirements.txt names a package no index has.",
        "templateType": "customApplicationTemplate", "templateSubType": "python",
        "defaultEnvironment": json.dumps({"environmentId": "a", "environmentVersionId": "b"}),
    }  # fmt: skip
    response = sb.api("POST", "customTemplates/", data=fields, files={"file": ("t.zip", files)})
    assert response.status_code in (200, 201), response.text
    return NAME


CRASHING = "Crashing Config App"
#: What the crashing app prints before its traceback.
CRASH_PRINTS = ("booting", "reading the config")
CRASH_FIRST_ERROR = (
    "json.decoder.JSONDecodeError: Expecting property name enclosed in double quotes: "
    "line 1 column 2 (char 1)"
)
CRASH_FILES = {
    "start-app.sh": b"#!/usr/bin/env bash\necho booting\nexec python app.py\n",
    # A file, not python -c: its traceback quotes the line, with a caret line under it.
    "app.py": b'import json\nprint("reading the config", flush=True)\n'
    b'config = json.loads("{bad")\n',
}


def publish_crashing_app(sb: Any) -> str:
    """Publish (once) a template whose app crashes at start with a Python traceback; its name."""
    found = sb.api("GET", "customTemplates/", params={"search": CRASHING}).json()["data"]
    if any(t["name"] == CRASHING for t in found):
        return CRASHING
    fields = {
        "name": CRASHING, "description": "Its app reads a broken config and crashes.",
        "templateType": "customApplicationTemplate", "templateSubType": "python",
        "defaultEnvironment": json.dumps({"environmentId": "a", "environmentVersionId": "b"}),
    }  # fmt: skip
    files = zip_of(CRASH_FILES)
    response = sb.api("POST", "customTemplates/", data=fields, files={"file": ("t.zip", files)})
    assert response.status_code in (200, 201), response.text
    return CRASHING
