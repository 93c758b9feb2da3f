"""FastAPI Prediction Service: a typed API in front of a DataRobot deployment."""

import json
import os

import requests
from fastapi import FastAPI, HTTPException
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field


def runtime_parameter(name: str, default: str) -> str:
    """A runtime parameter: DataRobot sets MLOPS_RUNTIME_PARAM_<NAME> to {"type", "payload"}."""
    raw = os.environ.get(f"MLOPS_RUNTIME_PARAM_{name}")
    if raw is None:
        return os.environ.get(name, default)
    try:
        payload = json.loads(raw).get("payload")
    except (ValueError, AttributeError):
        return raw
    return default if payload is None else str(payload)


MAX_BATCH = int(runtime_parameter("MAX_BATCH", "1000"))
app = FastAPI(title="Prediction Service", version="1.0.0")


class Customer(BaseModel):
    tenure_months: int = Field(ge=0, le=600)
    plan: str = Field(min_length=1, max_length=40)
    monthly_charges: float = Field(ge=0)


class Prediction(BaseModel):
    prediction: float | str
    row: int


def score(rows: list[Customer]) -> list[Prediction]:
    deployment_id = runtime_parameter("DEPLOYMENT_ID", "")
    if not deployment_id:
        raise HTTPException(503, "Set the DEPLOYMENT_ID runtime parameter to score rows.")
    endpoint = os.environ["DATAROBOT_ENDPOINT"].rstrip("/")
    response = requests.post(
        f"{endpoint}/deployments/{deployment_id}/predictions/",
        json=[r.model_dump() for r in rows],
        headers={"Authorization": f"Bearer {os.environ['DATAROBOT_API_TOKEN']}"},
        timeout=60,
    )
    if response.status_code >= 400:
        raise HTTPException(502, f"DataRobot answered {response.status_code}.")
    values = [row.get("prediction") for row in response.json().get("data", [])]
    return [Prediction(prediction=v, row=i) for i, v in enumerate(values)]


@app.get("/", include_in_schema=False)
def root() -> RedirectResponse:
    """The application's page: its API documentation (relative: it works under any prefix)."""
    return RedirectResponse("docs")


@app.get("/healthz")
def healthz() -> dict:
    return {"status": "ok"}


@app.post("/predict")
def predict_one(customer: Customer) -> Prediction:
    return score([customer])[0]


@app.post("/predict/batch")
def predict_batch(customers: list[Customer]) -> list[Prediction]:
    if not customers or len(customers) > MAX_BATCH:
        raise HTTPException(422, f"Send between 1 and {MAX_BATCH} rows.")
    return score(customers)
