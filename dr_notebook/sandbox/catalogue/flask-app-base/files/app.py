"""Flask App Base: a form and a JSON endpoint in front of a DataRobot deployment."""

import os

import datarobot as dr
import pandas as pd
from datarobot_predict.deployment import predict
from flask import Flask, jsonify, render_template, request

app = Flask(__name__)
APP_TITLE = os.environ.get("APP_TITLE", "Flask App Base")


def score(row: dict) -> dict:
    """Score one row with the configured deployment."""
    dr.Client()  # reads DATAROBOT_ENDPOINT and DATAROBOT_API_TOKEN
    deployment = dr.Deployment.get(os.environ["DEPLOYMENT_ID"])
    result = predict(deployment, pd.DataFrame([row]))
    return result.dataframe.iloc[0].to_dict()


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
    return render_template("index.html", title=APP_TITLE, prediction=prediction)
