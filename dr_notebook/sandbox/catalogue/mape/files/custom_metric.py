"""MAPE: mean absolute percentage error, skipping zero actuals."""

import logging
import os
import sys

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)


def score(
    df: pd.DataFrame,
    *,
    actuals_column: str = os.environ.get("ACTUALS_COLUMN", "actuals"),
    predictions_column: str = os.environ.get("PREDICTIONS_COLUMN", "predictions"),
    error_cap: float = float(os.environ.get("ERROR_CAP", "1000")),
) -> float:
    """Return the MAPE of the rows in `df`, in percent."""
    actuals = df[actuals_column].to_numpy(dtype=float)
    predictions = df[predictions_column].to_numpy(dtype=float)
    usable = actuals != 0
    if not usable.all():
        logger.info("Skipped %d rows with a zero actual", int((~usable).sum()))
    if not usable.any():
        return float("nan")
    errors = np.abs(actuals[usable] - predictions[usable]) / np.abs(actuals[usable]) * 100
    return float(np.minimum(errors, error_cap).mean())


if __name__ == "__main__":
    print(f"MAPE: {score(pd.read_csv(sys.argv[1])):.2f}%")
