"""Streamlit App Base: score an uploaded CSV with a DataRobot deployment."""

import json
import os

import datarobot as dr
import pandas as pd
import streamlit as st
from datarobot_predict.deployment import predict


def runtime_param(name: str, default: str | None = None) -> str | None:
    """Read a DataRobot runtime parameter, falling back to a plain environment variable."""
    raw = os.environ.get(f"MLOPS_RUNTIME_PARAM_{name}")
    if raw is None:
        return os.environ.get(name, default)
    try:
        return json.loads(raw).get("payload", default)
    except (ValueError, AttributeError):
        return raw


@st.cache_resource
def get_deployment(deployment_id: str) -> dr.Deployment:
    dr.Client()
    return dr.Deployment.get(deployment_id)


st.set_page_config(page_title="Streamlit App Base", layout="wide")
st.title("Score a CSV file")

deployment_id = runtime_param("DEPLOYMENT_ID")
max_rows = int(runtime_param("MAX_ROWS", "50000"))
if not deployment_id:
    st.error("Set the DEPLOYMENT_ID runtime parameter to a deployment ID.")
    st.stop()

uploaded = st.file_uploader("Upload a CSV file", type="csv")
if uploaded is not None:
    frame = pd.read_csv(uploaded)
    if len(frame) > max_rows:
        st.warning(f"Only the first {max_rows} rows are scored.")
        frame = frame.head(max_rows)
    st.dataframe(frame.head(20))
    if st.button("Score", type="primary"):
        with st.spinner("Scoring..."):
            result = predict(get_deployment(deployment_id), frame).dataframe
        st.dataframe(result)
        st.download_button(
            "Download predictions",
            result.to_csv(index=False),
            file_name="predictions.csv",
            mime="text/csv",
        )
