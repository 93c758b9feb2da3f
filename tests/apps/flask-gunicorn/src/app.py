"""A page listing the platform's deployments, rendered by the server."""

import os
from html import escape

import requests
from flask import Flask

app = Flask(__name__)
ENDPOINT = os.environ.get("DATAROBOT_ENDPOINT", "").rstrip("/")
HEADERS = {"Authorization": f"Bearer {os.environ.get('DATAROBOT_API_TOKEN', '')}"}


@app.get("/")
def index() -> str:
    """The deployments' labels as a list."""
    found = requests.get(f"{ENDPOINT}/deployments/", headers=HEADERS, timeout=10).json()
    items = "".join(f"<li>{escape(d['label'])}</li>" for d in found["data"])
    return f"<h1>Flask under gunicorn</h1><ul aria-label='deployments'>{items}</ul>"
