"""Incremental scoring of a Snowflake table with DataRobot batch predictions."""

import json
import os
from datetime import datetime, timezone

import datarobot as dr
from state import last_run, save_run


def runtime_param(name: str, default: str | None = None) -> str | None:
    """Read a DataRobot runtime parameter, falling back to a plain environment variable."""
    raw = os.environ.get(f"MLOPS_RUNTIME_PARAM_{name}")
    if raw is None:
        return os.environ.get(name, default)
    try:
        return json.loads(raw).get("payload", default)
    except (ValueError, AttributeError):
        return raw


def main() -> None:
    dr.Client()
    source, target = runtime_param("SOURCE_TABLE"), runtime_param("TARGET_TABLE")
    column = runtime_param("UPDATED_AT_COLUMN", "UPDATED_AT")
    since = last_run(target)
    started = datetime.now(timezone.utc)
    common = {
        "type": "snowflake",
        "data_store_id": runtime_param("DATA_STORE_ID"),
        "credential_id": runtime_param("CREDENTIAL_ID"),
    }
    job = dr.BatchPredictionJob.score(
        deployment=runtime_param("DEPLOYMENT_ID"),
        intake_settings={**common, "query": f"SELECT * FROM {source} WHERE {column} > '{since}'"},
        output_settings={
            **common,
            "table": target.split(".")[-1],
            "schema": target.split(".")[-2],
            "statement_type": "insert",
        },
        include_prediction_status=True,
    )
    job.wait_for_completion()
    status = job.get_status()
    if status["status"] != "COMPLETED":
        raise SystemExit(f"Batch job failed: {status.get('status_details')}")
    save_run(target, started)
    print(f"Scored {status.get('scored_rows', 0)} rows from {source} since {since}.")


if __name__ == "__main__":
    main()
