"""Lift at top decile for binary classification deployments."""

import os
import sys

import pandas as pd


def score(
    df: pd.DataFrame,
    *,
    actuals_column: str = "actuals",
    probability_column: str = "predictions",
    positive_class: str = os.environ.get("POSITIVE_CLASS", "True"),
    top_fraction: float = float(os.environ.get("TOP_FRACTION", "0.1")),
) -> float:
    """Return positive rate in the top-scored fraction divided by the overall positive rate."""
    positive = df[actuals_column].astype(str).eq(positive_class)
    base_rate = positive.mean()
    if base_rate == 0:
        return float("nan")
    top_n = max(1, round(len(df) * top_fraction))
    top = df[probability_column].astype(float).nlargest(top_n).index
    return float(positive.loc[top].mean() / base_rate)


if __name__ == "__main__":
    print(f"Lift at top decile: {score(pd.read_csv(sys.argv[1])):.2f}")
