"""Model Monitoring Dashboard: health, drift and accuracy of every deployment."""

import os
from datetime import datetime, timedelta, timezone

import dash
import datarobot as dr
import pandas as pd
import plotly.express as px
from dash import Input, Output, dash_table, dcc, html
from flask import request

dr.Client()
REFRESH_MS = int(os.environ.get("REFRESH_SECONDS", "300")) * 1000
PERIODS = {"24 hours": 1, "7 days": 7, "30 days": 30}

# DataRobot serves the app under /custom_applications/<id>/ and strips that prefix: routes stay
# at "/", while the page asks for its assets and callbacks under the prefix.
APPLICATION_ID = os.environ.get("APPLICATION_ID")
PREFIX = f"/custom_applications/{APPLICATION_ID}/" if APPLICATION_ID else "/"
app = dash.Dash(
    __name__, title="Model Monitoring", requests_pathname_prefix=PREFIX, routes_pathname_prefix="/"
)
server = app.server


@server.after_request
def behind_another_proxy(response):
    """Through a proxy in front (jupyter-server-proxy's <base>/proxy/<port>), X-Forwarded-Prefix
    is that proxy's prefix followed by PREFIX: the page then asks for its assets and callbacks
    under the whole of it, so that they come back through both proxies."""
    outer = request.headers.get("X-Forwarded-Prefix", "").rstrip("/") + "/"
    if response.mimetype == "text/html" and outer != PREFIX and outer.endswith(PREFIX):
        page = response.get_data(as_text=True)
        for inner, whole in ((PREFIX, outer), (escaped(PREFIX), escaped(outer))):
            page = page.replace(f'"{inner}', f'"{whole}')
        response.set_data(page)
    return response


def escaped(path: str) -> str:
    """A path as Dash writes it into the page's JSON config ("/" as \\u002f)."""
    return path.replace("/", "\\u002f")


app.layout = html.Div(
    [
        html.H1("Model Monitoring Dashboard"),
        html.P(id="notice", role="alert"),
        dcc.RadioItems(list(PERIODS), "7 days", id="period", inline=True),
        dcc.Interval(id="tick", interval=REFRESH_MS),
        dash_table.DataTable(id="grid", row_selectable="single", page_size=15),
        dcc.Graph(id="drift"),
    ]
)


def status_frame() -> pd.DataFrame:
    rows = []
    for deployment in dr.Deployment.list():
        health = deployment.service_health or {}
        drift = deployment.model_health or {}
        accuracy = deployment.accuracy_health or {}
        rows.append(
            {
                "id": deployment.id,
                "label": deployment.label,
                "service": health.get("status", "unknown"),
                "drift": drift.get("status", "unknown"),
                "accuracy": accuracy.get("status", "unknown"),
            }
        )
    return pd.DataFrame(rows)


@app.callback(
    Output("grid", "data"),
    Output("grid", "columns"),
    Output("notice", "children"),
    Input("tick", "n_intervals"),
)
def refresh(_):
    try:
        frame, notice = status_frame(), ""
    except (dr.errors.ClientError, dr.errors.ServerError) as exc:
        # A notice on the page rather than a failed callback: the grid stays empty.
        frame = pd.DataFrame(columns=["id", "label", "service", "drift", "accuracy"])
        notice = f"DataRobot did not list the deployments ({exc.status_code})."
    if frame.empty and not notice:
        notice = "No deployments yet."
    columns = [{"name": c, "id": c} for c in frame.columns if c != "id"]
    return frame.to_dict("records"), columns, notice


@app.callback(
    Output("drift", "figure"),
    Input("grid", "selected_rows"),
    Input("grid", "data"),
    Input("period", "value"),
)
def drift_chart(selected, data, period):
    if not selected:
        return px.bar(title="Select a deployment to see feature drift")
    deployment = dr.Deployment.get(data[selected[0]]["id"])
    end = datetime.now(timezone.utc)
    drift = deployment.get_feature_drift(
        start_time=end - timedelta(days=PERIODS[period]), end_time=end
    )
    frame = pd.DataFrame(
        {"feature": [d.name for d in drift], "drift": [d.drift_score for d in drift]}
    )
    return px.bar(frame.sort_values("drift", ascending=False).head(15), x="feature", y="drift")
