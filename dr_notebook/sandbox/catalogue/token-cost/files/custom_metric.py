"""Estimated LLM spend from token counts."""

import os
import sys

import pandas as pd
import tiktoken


def count_tokens(texts: pd.Series, encoding_name: str) -> pd.Series:
    encoding = tiktoken.get_encoding(encoding_name)
    return texts.fillna("").astype(str).map(lambda text: len(encoding.encode(text)))


def score(
    df: pd.DataFrame,
    *,
    prompt_price: float = float(os.environ.get("PROMPT_PRICE_PER_1K", "0.0005")),
    completion_price: float = float(os.environ.get("COMPLETION_PRICE_PER_1K", "0.0015")),
    encoding_name: str = os.environ.get("ENCODING", "cl100k_base"),
) -> float:
    """Return the estimated cost of all prompts and completions in `df`."""
    if "prompt_tokens" in df:
        prompt_tokens = df["prompt_tokens"]
    else:
        prompt_tokens = count_tokens(df["prompt"], encoding_name)
    if "completion_tokens" in df:
        completion_tokens = df["completion_tokens"]
    else:
        completion_tokens = count_tokens(df["completion"], encoding_name)
    return float(
        prompt_tokens.sum() / 1000 * prompt_price
        + completion_tokens.sum() / 1000 * completion_price
    )


if __name__ == "__main__":
    print(f"Estimated cost: {score(pd.read_csv(sys.argv[1])):.4f}")
