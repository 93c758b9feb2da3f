"""Customer Segmentation Explorer for a DataRobot clustering deployment."""

import os

import datarobot as dr
import pandas as pd
import plotly.express as px
import streamlit as st
from datarobot_predict.deployment import predict
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler

st.set_page_config(page_title="Customer Segments", layout="wide")
st.title("Customer Segmentation Explorer")


@st.cache_data(show_spinner="Assigning segments...")
def assign(frame: pd.DataFrame) -> pd.Series:
    dr.Client()
    result = predict(dr.Deployment.get(os.environ["DEPLOYMENT_ID"]), frame).dataframe
    column = next(c for c in result.columns if c.endswith("_PREDICTION"))
    return result[column].rename("segment")


uploaded = st.file_uploader("Customer table (CSV)", type="csv")
if uploaded is None:
    st.stop()
customers = pd.read_csv(uploaded)
customers["segment"] = assign(customers).to_numpy()
numeric = customers.select_dtypes("number")

left, right = st.columns(2)
left.subheader("Segment sizes")
left.bar_chart(customers["segment"].value_counts().sort_index())

right.subheader("Profiles (difference from average, in std units)")
profile = (numeric.groupby(customers["segment"]).mean() - numeric.mean()) / numeric.std()
right.plotly_chart(px.imshow(profile, color_continuous_scale="RdBu_r", aspect="auto"))

st.subheader("Customer map")
points = PCA(n_components=2).fit_transform(StandardScaler().fit_transform(numeric.fillna(0)))
st.plotly_chart(
    px.scatter(x=points[:, 0], y=points[:, 1], color=customers["segment"].astype(str), opacity=0.6)
)

names = st.data_editor(
    pd.DataFrame({"segment": sorted(customers["segment"].unique()), "name": ""}), hide_index=True
)
export = customers.merge(names, on="segment", how="left")
st.download_button("Download assignments", export.to_csv(index=False), "segments.csv")
