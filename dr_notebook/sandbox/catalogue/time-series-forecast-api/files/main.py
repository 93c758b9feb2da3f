"""Time Series Forecast API: JSON forecasts per series."""

import os
from datetime import date

import datarobot as dr
import pandas as pd
from cachetools import TTLCache, cached
from datarobot_predict.deployment import predict
from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import RedirectResponse
from pydantic import BaseModel

SERIES = os.environ.get("SERIES_COLUMN", "series_id")
app = FastAPI(title="Time Series Forecast API")
dr.Client()
# Locally, without a dataset and a deployment, the API serves flat stub forecasts.
history = (
    dr.Dataset.get(os.environ["HISTORY_DATASET_ID"]).get_as_dataframe()
    if os.getenv("HISTORY_DATASET_ID")
    else pd.DataFrame({SERIES: ["sample"]})
)
deployment = dr.Deployment.get(os.environ["DEPLOYMENT_ID"]) if os.getenv("DEPLOYMENT_ID") else None


class Point(BaseModel):
    date: date
    prediction: float
    low: float | None = None
    high: float | None = None


@cached(TTLCache(maxsize=1024, ttl=int(os.environ.get("CACHE_SECONDS", "900"))))
def forecast(series_id: str, horizon: int) -> list[Point]:
    past = history[history[SERIES] == series_id]
    if past.empty:
        raise HTTPException(404, f"Unknown series {series_id!r}.")
    if deployment is None:
        start = date.today()
        return [Point(date=start.fromordinal(start.toordinal() + d), prediction=0.0)
                for d in range(1, horizon + 1)]  # fmt: skip
    result = predict(
        deployment, past, time_series_type="forecast", prediction_intervals_size=80
    ).dataframe
    result = result[result["FORECAST_DISTANCE"] <= horizon]
    return [
        Point(
            date=row["TIMESTAMP"][:10],
            prediction=row["PREDICTION"],
            low=row.get("PREDICTION_80_PERCENTILE_LOW"),
            high=row.get("PREDICTION_80_PERCENTILE_HIGH"),
        )
        for _, row in result.iterrows()
    ]


@app.get("/forecast/{series_id}")
def get_forecast(series_id: str, horizon: int = Query(7, ge=1, le=90)) -> list[Point]:
    return forecast(series_id, horizon)


@app.get("/", include_in_schema=False)
def root() -> RedirectResponse:
    """The application's page: its API documentation (relative: it works under any prefix)."""
    return RedirectResponse("docs")


@app.get("/healthz")
def healthz() -> dict:
    return {"status": "ok", "series": int(history[SERIES].nunique())}
