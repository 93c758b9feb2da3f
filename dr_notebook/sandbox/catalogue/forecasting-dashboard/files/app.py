"""Forecasting dashboard for a DataRobot time series deployment."""

import os

import dash
import plotly.graph_objects as go
from dash import Input, Output, dcc, html
from flask import request
from forecast import load_history, request_forecast

DATE = os.environ.get("DATE_COLUMN", "date")
SERIES = os.environ.get("SERIES_COLUMN", "store")
TARGET = os.environ.get("TARGET_COLUMN", "sales")

history = load_history(os.environ.get("HISTORY_DATASET_ID"))
# DataRobot serves the app under /custom_applications/<id>/ and strips that prefix: routes stay
# at "/", while the page asks for its assets and callbacks under the prefix.
APPLICATION_ID = os.environ.get("APPLICATION_ID")
PREFIX = f"/custom_applications/{APPLICATION_ID}/" if APPLICATION_ID else "/"
app = dash.Dash(
    __name__,
    title="Forecasting Dashboard",
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
        html.H1("Forecasting Dashboard"),
        dcc.Dropdown(
            sorted(history[SERIES].unique()),
            id="series",
            clearable=False,
            value=sorted(history[SERIES].unique())[0],
        ),
        dcc.Slider(1, 28, 1, value=14, id="horizon", marks={1: "1", 7: "7", 14: "14", 28: "28"}),
        dcc.Graph(id="chart"),
    ]
)


@app.callback(Output("chart", "figure"), Input("series", "value"), Input("horizon", "value"))
def update_chart(series: str, horizon: int) -> go.Figure:
    past = history[history[SERIES] == series]
    forecast = request_forecast(os.environ.get("DEPLOYMENT_ID"), past, horizon)
    figure = go.Figure()
    figure.add_scatter(x=past[DATE], y=past[TARGET], name="Actuals")
    figure.add_scatter(
        x=forecast["timestamp"], y=forecast["prediction_high"], line={"width": 0}, showlegend=False
    )
    figure.add_scatter(
        x=forecast["timestamp"],
        y=forecast["prediction_low"],
        fill="tonexty",
        line={"width": 0},
        name="80% interval",
    )
    figure.add_scatter(x=forecast["timestamp"], y=forecast["prediction"], name="Forecast")
    figure.update_layout(margin={"t": 20}, hovermode="x unified")
    return figure
