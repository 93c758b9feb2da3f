"""Legacy single-turn chat through the prediction API (deprecated)."""

import os

import datarobot as dr
import pandas as pd
import streamlit as st
from datarobot_predict.deployment import predict

st.title("Chat (legacy)")
st.warning("This app is deprecated. Use the Q&A Chat Generation App template.")
question = st.text_area("Question")
if st.button("Ask") and question:
    dr.Client()
    deployment = dr.Deployment.get(os.environ["DEPLOYMENT_ID"])
    result = predict(deployment, pd.DataFrame({"promptText": [question]})).dataframe
    column = next(c for c in result.columns if c.endswith("_PREDICTION"))
    st.markdown(result[column].iloc[0])
