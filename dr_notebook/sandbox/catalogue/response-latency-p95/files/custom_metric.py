"""High-percentile response latency of LLM answers."""

import os
import sys

import numpy as np
import pandas as pd


def score(
    df: pd.DataFrame,
    *,
    latency_column: str = os.environ.get("LATENCY_COLUMN", "latency_ms"),
    percentile: float = float(os.environ.get("PERCENTILE", "95")),
    timeout_ms: float = float(os.environ.get("TIMEOUT_MS", "60000")),
) -> float:
    """Return the given percentile of latency in milliseconds."""
    latencies = pd.to_numeric(df[latency_column], errors="coerce").dropna()
    if latencies.empty:
        return float("nan")
    return float(np.percentile(latencies.clip(upper=timeout_ms), percentile))


if __name__ == "__main__":
    frame = pd.read_csv(sys.argv[1])
    print(f"p{os.environ.get('PERCENTILE', '95')} latency: {score(frame):.0f} ms")
