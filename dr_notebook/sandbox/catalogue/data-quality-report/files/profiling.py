"""Column profiles and schema differences."""

import pandas as pd


def profile(frame: pd.DataFrame, missing_limit: float, outlier_limit: float):
    rows = []
    for name, column in frame.items():
        missing = column.isna().mean()
        outliers = 0.0
        if pd.api.types.is_numeric_dtype(column):
            q1, q3 = column.quantile([0.25, 0.75])
            spread = 1.5 * (q3 - q1)
            outliers = ((column < q1 - spread) | (column > q3 + spread)).mean()
        rows.append(
            {
                "name": name,
                "dtype": str(column.dtype),
                "missing": missing,
                "distinct": column.nunique(),
                "outliers": outliers,
                "flagged": missing > missing_limit or outliers > outlier_limit,
            }
        )
    return rows, int(frame.duplicated().sum())


def schema_diff(before: pd.DataFrame, after: pd.DataFrame) -> dict:
    old, new = before.dtypes.astype(str).to_dict(), after.dtypes.astype(str).to_dict()
    return {
        "added": sorted(set(new) - set(old)),
        "removed": sorted(set(old) - set(new)),
        "retyped": sorted(c for c in set(old) & set(new) if old[c] != new[c]),
    }
