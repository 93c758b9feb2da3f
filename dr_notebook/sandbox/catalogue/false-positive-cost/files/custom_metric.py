"""Cost of false positives and false negatives, summed per time bucket."""

import os
import sys

import pandas as pd

POSITIVE = "fraud"


def score(
    df: pd.DataFrame,
    *,
    fp_cost: float = float(os.environ.get("FP_COST", "25")),
    fn_cost: float = float(os.environ.get("FN_COST", "400")),
    threshold: float = float(os.environ.get("THRESHOLD", "0.5")),
) -> float:
    """Return the total cost of wrong decisions in `df`."""
    flagged = df["predictions"].astype(float) >= threshold
    actual = df["actuals"].astype(str).eq(POSITIVE)
    false_positives = int((flagged & ~actual).sum())
    false_negatives = int((~flagged & actual).sum())
    return false_positives * fp_cost + false_negatives * fn_cost


if __name__ == "__main__":
    print(f"Cost of errors: {score(pd.read_csv(sys.argv[1])):,.2f}")
