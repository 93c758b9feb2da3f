"""Data access: history from the AI Catalog, forecasts from a deployment."""

import datarobot as dr
import pandas as pd
from datarobot_predict.deployment import predict


def sample_history(days: int = 120) -> pd.DataFrame:
    """Two stores of synthetic daily sales: what the dashboard shows without a dataset."""
    dates = pd.date_range(end=pd.Timestamp.today().normalize(), periods=days, freq="D")
    frames = [
        pd.DataFrame({"date": dates, "store": store, "sales": base + 10 * (dates.dayofweek >= 5)})
        for store, base in (("north (sample)", 100.0), ("south (sample)", 60.0))
    ]
    return pd.concat(frames, ignore_index=True)


def naive_forecast(history: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """The last week's mean, flat, with a +-10 % band: without a deployment (a stub)."""
    level = float(history["sales"].tail(7).mean())
    start = pd.to_datetime(history["date"]).max() + pd.Timedelta(days=1)
    return pd.DataFrame(
        {
            "timestamp": pd.date_range(start, periods=horizon, freq="D"),
            "prediction": level,
            "prediction_low": level * 0.9,
            "prediction_high": level * 1.1,
        }
    )


def load_history(dataset_id: str | None) -> pd.DataFrame:
    if not dataset_id:  # locally, without a dataset: sample data
        return sample_history()
    dr.Client()
    return dr.Dataset.get(dataset_id).get_as_dataframe()


def request_forecast(
    deployment_id: str | None, history: pd.DataFrame, horizon: int
) -> pd.DataFrame:
    if not deployment_id:  # locally, without a deployment: a naive stub forecast
        return naive_forecast(history, horizon)
    deployment = dr.Deployment.get(deployment_id)
    result = predict(
        deployment,
        history,
        time_series_type="forecast",
        forecast_point=None,
        prediction_intervals_size=80,
    ).dataframe
    result = result.rename(
        columns={
            "PREDICTION": "prediction",
            "FORECAST_POINT": "forecast_point",
            "PREDICTION_80_PERCENTILE_LOW": "prediction_low",
            "PREDICTION_80_PERCENTILE_HIGH": "prediction_high",
        }
    )
    result["timestamp"] = pd.to_datetime(result["TIMESTAMP" if "TIMESTAMP" in result else "date"])
    return result[result["FORECAST_DISTANCE"] <= horizon]
