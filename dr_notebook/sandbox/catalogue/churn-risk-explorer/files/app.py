"""Churn Risk Explorer: customers ranked by churn probability, with reasons."""

import os

import dash
import datarobot as dr
import pandas as pd
import plotly.express as px
from dash import Input, Output, dash_table, dcc, html
from datarobot_predict.deployment import predict
from flask import request

HIGH = float(os.environ.get("HIGH_RISK", "0.6"))
MEDIUM = float(os.environ.get("MEDIUM_RISK", "0.3"))


def sample_scores() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Synthetic customers and stub scores: what the app shows without a dataset and model."""
    n = 60
    frame = pd.DataFrame(
        {
            "customer_id": [f"C{i:03d} (sample)" for i in range(n)],
            "plan": [("basic", "plus", "pro")[i % 3] for i in range(n)],
            "region": [("north", "south", "east", "west")[i % 4] for i in range(n)],
            "tenure_band": [("<1y", "1-3y", ">3y")[i % 3] for i in range(n)],
        }
    )
    scores = pd.DataFrame({"churn_1_PREDICTION": [(i * 37 % 100) / 100 for i in range(n)]})
    for i, feature in ((1, "plan"), (2, "region"), (3, "tenure_band")):
        scores[f"EXPLANATION_{i}_FEATURE_NAME"] = feature
    return frame, scores


dr.Client()
if os.getenv("CUSTOMERS_DATASET_ID") and os.getenv("DEPLOYMENT_ID"):
    customers = dr.Dataset.get(os.environ["CUSTOMERS_DATASET_ID"]).get_as_dataframe()
    scored = predict(
        dr.Deployment.get(os.environ["DEPLOYMENT_ID"]), customers, max_explanations=3
    ).dataframe
else:  # locally, without a dataset and a deployment: sample data
    customers, scored = sample_scores()
probability = next(c for c in scored.columns if c.endswith("_1_PREDICTION"))
customers["churn_probability"] = scored[probability].round(3)
customers["reasons"] = scored[[f"EXPLANATION_{i}_FEATURE_NAME" for i in (1, 2, 3)]].agg(
    ", ".join, axis=1
)
customers["tier"] = pd.cut(
    customers["churn_probability"], [-0.01, MEDIUM, HIGH, 1.0], labels=["low", "medium", "high"]
)

# DataRobot serves the app under /custom_applications/<id>/ and strips that prefix: routes stay
# at "/", while the page asks for its assets and callbacks under the prefix.
APPLICATION_ID = os.environ.get("APPLICATION_ID")
PREFIX = f"/custom_applications/{APPLICATION_ID}/" if APPLICATION_ID else "/"
app = dash.Dash(
    __name__,
    title="Churn Risk Explorer",
    requests_pathname_prefix=PREFIX,
    routes_pathname_prefix="/",
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
        html.H1("Churn Risk Explorer"),
        dcc.Dropdown(["plan", "region", "tenure_band"], "plan", id="segment", clearable=False),
        dcc.Graph(id="tiers"),
        dash_table.DataTable(
            customers.sort_values("churn_probability", ascending=False).to_dict("records"),
            [{"name": c, "id": c} for c in ["customer_id", "churn_probability", "tier", "reasons"]],
            sort_action="native",
            filter_action="native",
            page_size=20,
        ),
    ]
)


@app.callback(Output("tiers", "figure"), Input("segment", "value"))
def tiers(segment: str):
    counts = customers.groupby([segment, "tier"], observed=True).size().reset_index(name="n")
    return px.bar(
        counts,
        x=segment,
        y="n",
        color="tier",
        barmode="stack",
        color_discrete_map={"low": "#4caf50", "medium": "#ffb300", "high": "#e53935"},
    )
