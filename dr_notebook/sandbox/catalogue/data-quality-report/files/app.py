"""Data Quality Report for AI Catalog datasets."""

import os

import datarobot as dr
from flask import Flask, abort, render_template
from profiling import profile, schema_diff

app = Flask(__name__)
MISSING = float(os.environ.get("MISSING_THRESHOLD", "0.2"))
OUTLIERS = float(os.environ.get("OUTLIER_THRESHOLD", "0.05"))


@app.get("/")
def index():
    dr.Client()
    try:
        datasets, problem = dr.Dataset.list()[:100], None
    except (dr.errors.ClientError, dr.errors.ServerError) as exc:
        # Shown on the page rather than a 500: the AI Catalog may be out of reach or not offered.
        datasets, problem = [], f"DataRobot did not list the datasets ({exc.status_code})."
    return render_template("index.html", datasets=datasets, problem=problem)


@app.get("/report/<dataset_id>")
def report(dataset_id: str):
    dr.Client()
    try:
        dataset = dr.Dataset.get(dataset_id)
    except dr.errors.ClientError:
        abort(404)
    frame = dataset.get_as_dataframe()
    columns, duplicates = profile(frame, MISSING, OUTLIERS)
    versions = dr.Dataset.get_versions(dataset_id) if hasattr(dr.Dataset, "get_versions") else []
    diff = schema_diff(versions[1].get_as_dataframe(), frame) if len(versions) > 1 else None
    return render_template(
        "report.html",
        dataset=dataset,
        columns=columns,
        duplicates=duplicates,
        diff=diff,
        rows=len(frame),
    )
