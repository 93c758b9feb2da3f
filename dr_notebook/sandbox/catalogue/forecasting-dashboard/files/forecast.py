"""Data access: history from the AI Catalog, forecasts from a deployment."""

import datarobot as dr
import pandas as pd
from datarobot_predict.deployment import predict


def load_history(dataset_id: str) -> pd.DataFrame:
    dr.Client()
    return dr.Dataset.get(dataset_id).get_as_dataframe()


def request_forecast(deployment_id: str, history: pd.DataFrame, horizon: int) -> pd.DataFrame:
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
