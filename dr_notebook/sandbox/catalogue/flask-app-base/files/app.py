"""Flask App Base: a page and a JSON endpoint in front of a DataRobot deployment."""

import json
import os

import requests
from flask import Flask, jsonify, render_template, request

app = Flask(__name__)


def runtime_parameter(name: str, default: str | None = None) -> str | None:
    """A runtime parameter: DataRobot sets MLOPS_RUNTIME_PARAM_<NAME> to {"type", "payload"}."""
    raw = os.environ.get(f"MLOPS_RUNTIME_PARAM_{name}")
    if raw is None:
        return os.environ.get(name, default)
    try:
        payload = json.loads(raw).get("payload")
    except (ValueError, AttributeError):
        return raw
    return default if payload is None else str(payload)


def datarobot(method: str, path: str, **kwargs) -> requests.Response:
    """A call to the DataRobot API the platform points the app at (token from the platform)."""
    endpoint = os.environ["DATAROBOT_ENDPOINT"].rstrip("/")
    headers = {"Authorization": f"Bearer {os.environ['DATAROBOT_API_TOKEN']}"}
    return requests.request(method, f"{endpoint}/{path}", headers=headers, timeout=30, **kwargs)


def api_version() -> str:
    """The DataRobot API version, or why it could not be read."""
    try:
        response = datarobot("GET", "version/")
        response.raise_for_status()
        return response.json().get("versionString", "unknown")
    except (KeyError, requests.RequestException, ValueError) as exc:
        return f"unreachable ({type(exc).__name__})"


def score(row: dict) -> dict:
    """Score one row with the configured deployment."""
    deployment_id = runtime_parameter("DEPLOYMENT_ID")
    if not deployment_id:
        return {"message": "Set the DEPLOYMENT_ID runtime parameter to score rows."}
    response = datarobot("POST", f"deployments/{deployment_id}/predictions/", json=[row])
    if response.status_code >= 400:
        return {"message": f"DataRobot answered {response.status_code}."}
    return response.json()


@app.get("/healthz")
def healthz():
    return {"status": "ok"}


@app.post("/api/predict")
def api_predict():
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        return jsonify(message="Send one JSON object of feature values."), 400
    return jsonify(score(payload))


@app.route("/", methods=["GET", "POST"])
def index():
    prediction = None
    if request.method == "POST":
        prediction = score(request.form.to_dict())
    return render_template(
        "index.html",
        title=runtime_parameter("APP_TITLE", "Flask App Base"),
        api_version=api_version(),
        prediction=prediction,
    )
