"""Score an S3 file with DataRobot batch predictions."""

import json
import os
import sys
from datetime import date

import datarobot as dr


def runtime_param(name: str, default: str | None = None) -> str | None:
    """Read a DataRobot runtime parameter, falling back to a plain environment variable."""
    raw = os.environ.get(f"MLOPS_RUNTIME_PARAM_{name}")
    if raw is None:
        return os.environ.get(name, default)
    try:
        return json.loads(raw).get("payload", default)
    except (ValueError, AttributeError):
        return raw


def main() -> int:
    dr.Client()
    today = date.today().isoformat()
    credential = runtime_param("CREDENTIAL_ID")
    passthrough = [c for c in (runtime_param("PASSTHROUGH_COLUMNS") or "").split(",") if c]
    job = dr.BatchPredictionJob.score(
        deployment=runtime_param("DEPLOYMENT_ID"),
        intake_settings={
            "type": "s3",
            "credential_id": credential,
            "url": runtime_param("INPUT_URL").format(date=today),
        },
        output_settings={
            "type": "s3",
            "credential_id": credential,
            "url": runtime_param("OUTPUT_URL").format(date=today),
        },
        passthrough_columns=passthrough or None,
    )
    job.wait_for_completion()
    status = job.get_status()
    print(json.dumps({"status": status["status"], "rows": status.get("scored_rows")}))
    return 0 if status["status"] == "COMPLETED" else 1


if __name__ == "__main__":
    sys.exit(main())
