"""Time Series Forecast API: JSON forecasts per series."""

import os
from datetime import date

import datarobot as dr
from cachetools import TTLCache, cached
from datarobot_predict.deployment import predict
from fastapi import FastAPI, HTTPException, Query
from pydantic import BaseModel

SERIES = os.environ.get("SERIES_COLUMN", "series_id")
app = FastAPI(title="Time Series Forecast API")
dr.Client()
history = dr.Dataset.get(os.environ["HISTORY_DATASET_ID"]).get_as_dataframe()
deployment = dr.Deployment.get(os.environ["DEPLOYMENT_ID"])


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


@app.get("/healthz")
def healthz() -> dict:
    return {"status": "ok", "series": int(history[SERIES].nunique())}
