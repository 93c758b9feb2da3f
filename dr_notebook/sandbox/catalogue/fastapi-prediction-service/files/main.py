"""FastAPI Prediction Service: a typed API in front of a DataRobot deployment."""

import os
from functools import lru_cache

import datarobot as dr
import pandas as pd
from datarobot_predict.deployment import predict
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field

MAX_BATCH = int(os.environ.get("MAX_BATCH", "1000"))
app = FastAPI(title="Prediction Service", version="1.0.0")


class Customer(BaseModel):
    tenure_months: int = Field(ge=0, le=600)
    plan: str = Field(min_length=1, max_length=40)
    monthly_charges: float = Field(ge=0)


class Prediction(BaseModel):
    prediction: float | str
    row: int


@lru_cache(maxsize=1)
def deployment() -> dr.Deployment:
    dr.Client()
    return dr.Deployment.get(os.environ["DEPLOYMENT_ID"])


def score(rows: list[Customer]) -> list[Prediction]:
    frame = pd.DataFrame([r.model_dump() for r in rows])
    result = predict(deployment(), frame).dataframe
    column = next(c for c in result.columns if c.endswith("_PREDICTION"))
    return [Prediction(prediction=v, row=i) for i, v in enumerate(result[column])]


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
