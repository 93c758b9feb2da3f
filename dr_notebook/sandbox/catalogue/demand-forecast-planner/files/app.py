"""Demand Forecast Planner: from weekly forecasts to an order plan."""

import os

import pandas as pd
import streamlit as st
from scipy.stats import norm

SERVICE_LEVEL = float(os.environ.get("SERVICE_LEVEL", "0.95"))
LEAD_TIME = int(os.environ.get("LEAD_TIME_WEEKS", "2"))

st.set_page_config(page_title="Demand Forecast Planner", layout="wide")
st.title("Demand Forecast Planner")

forecast_file = st.sidebar.file_uploader("forecasts.csv", type="csv")
stock_file = st.sidebar.file_uploader("stock.csv", type="csv")
if not (forecast_file and stock_file):
    st.info("Upload forecasts (product, week, forecast, low, high) and stock (product, on_hand).")
    st.stop()

forecasts = pd.read_csv(forecast_file, parse_dates=["week"])
stock = pd.read_csv(stock_file).set_index("product")["on_hand"]

product = st.selectbox("Product", sorted(forecasts["product"].unique()))
weeks = forecasts.loc[forecasts["product"] == product, "week"].dt.date.tolist()
promo_weeks = st.multiselect("Promotion weeks", weeks)
uplift = st.slider("Promotion uplift", 0.0, 1.0, 0.25, 0.05)

plan = forecasts.copy()
promo = plan["product"].eq(product) & plan["week"].dt.date.isin(promo_weeks)
plan["adjusted"] = plan["forecast"] * (1 + uplift * promo)

# An 80% interval spans 2 * 1.2816 standard deviations.
sigma = (plan["high"] - plan["low"]) / (2 * 1.2816)
horizon = plan.groupby("product").head(LEAD_TIME)
need = horizon.groupby("product")["adjusted"].sum()
safety = (
    norm.ppf(SERVICE_LEVEL)
    * (sigma.loc[horizon.index] ** 2).groupby(horizon["product"]).sum() ** 0.5
)
orders = pd.DataFrame(
    {"demand": need, "safety_stock": safety, "on_hand": stock.reindex(need.index).fillna(0)}
)
orders["order_qty"] = (
    (orders["demand"] + orders["safety_stock"] - orders["on_hand"]).clip(lower=0).round()
)

st.line_chart(plan[plan["product"] == product].set_index("week")[["forecast", "adjusted"]])
st.dataframe(orders.round(1))
st.download_button("Download order plan", orders.to_csv(), "order_plan.csv")
