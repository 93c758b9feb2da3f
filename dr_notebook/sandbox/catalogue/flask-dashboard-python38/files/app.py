"""Deployment prediction counts as a Chart.js dashboard (Python 3.8, disabled)."""

import os
from datetime import datetime, timedelta

import datarobot as dr
from flask import Flask, render_template

app = Flask(__name__)
DAYS = int(os.environ.get("DAYS", "30"))


@app.route("/")
def index():
    dr.Client()
    start = datetime.utcnow() - timedelta(days=DAYS)
    labels, counts = [], []
    for deployment in dr.Deployment.list():
        stats = deployment.get_service_stats(start_time=start)
        labels.append(deployment.label)
        counts.append(stats.metrics.get("totalPredictions", 0))
    return render_template("index.html", labels=labels, counts=counts, days=DAYS)
