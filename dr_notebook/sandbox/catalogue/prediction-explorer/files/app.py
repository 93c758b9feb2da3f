"""Prediction Explorer: predictions and their explanations, row by row."""

import os

import datarobot as dr
import pandas as pd
import streamlit as st
from datarobot_predict.deployment import predict

st.set_page_config(page_title="Prediction Explorer", layout="wide")
st.title("Prediction Explorer")


@st.cache_data(show_spinner="Scoring with explanations...")
def score(frame: pd.DataFrame, deployment_id: str, explanations: int) -> pd.DataFrame:
    dr.Client()
    deployment = dr.Deployment.get(deployment_id)
    return predict(deployment, frame, max_explanations=explanations).dataframe


uploaded = st.file_uploader("Scoring data (CSV)", type="csv")
if uploaded is None:
    st.stop()
frame = pd.read_csv(uploaded)
scored = score(frame, os.environ["DEPLOYMENT_ID"], int(os.environ.get("MAX_EXPLANATIONS", 5)))
prediction_col = next(c for c in scored.columns if c.endswith("_PREDICTION"))

low, high = st.slider(
    "Prediction range",
    float(scored[prediction_col].min()),
    float(scored[prediction_col].max()),
    (float(scored[prediction_col].min()), float(scored[prediction_col].max())),
)
segment = scored[scored[prediction_col].between(low, high)]
left, right = st.columns(2)
left.metric("Rows in segment", len(segment))
left.dataframe(segment, height=420)

row = right.number_input("Row to explain", 0, max(len(segment) - 1, 0), 0)
if len(segment):
    record = segment.iloc[int(row)]
    names = [c for c in segment.columns if c.startswith("EXPLANATION_") and c.endswith("_NAME")]
    strengths = {record[n]: record[n.replace("_NAME", "_STRENGTH")] for n in names}
    right.bar_chart(pd.Series(strengths, name="strength"))
