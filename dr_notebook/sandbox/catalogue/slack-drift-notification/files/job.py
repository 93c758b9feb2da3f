"""Post a Slack message when a deployment's features drift."""

import json
import os
from datetime import datetime, timedelta, timezone

import datarobot as dr
import requests


def runtime_param(name: str, default: str | None = None) -> str | None:
    """Read a DataRobot runtime parameter, falling back to a plain environment variable."""
    raw = os.environ.get(f"MLOPS_RUNTIME_PARAM_{name}")
    if raw is None:
        return os.environ.get(name, default)
    try:
        return json.loads(raw).get("payload", default)
    except (ValueError, AttributeError):
        return raw


def drifting_features(deployment: dr.Deployment, threshold: float, hours: int) -> list:
    end = datetime.now(timezone.utc)
    drift = deployment.get_feature_drift(start_time=end - timedelta(hours=hours), end_time=end)
    return sorted(
        (d for d in drift if (d.drift_score or 0) > threshold),
        key=lambda d: d.drift_score,
        reverse=True,
    )


def main() -> None:
    dr.Client()
    deployment = dr.Deployment.get(runtime_param("DEPLOYMENT_ID"))
    threshold = float(runtime_param("DRIFT_THRESHOLD", "0.15"))
    features = drifting_features(deployment, threshold, int(runtime_param("LOOKBACK_HOURS", "24")))
    if not features:
        print(f"No drift above {threshold} for {deployment.label}.")
        return
    app_url = os.environ["DATAROBOT_ENDPOINT"].removesuffix("/api/v2")
    lines = "\n".join(f"• *{f.name}*: {f.drift_score:.2f}" for f in features[:10])
    message = {
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "Data drift detected"}},
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": (
                        f"<{app_url}/console/{deployment.id}/data-drift|{deployment.label}> has "
                        f"{len(features)} drifting features:\n{lines}"
                    ),
                },
            },
        ]
    }
    response = requests.post(runtime_param("SLACK_WEBHOOK_URL"), json=message, timeout=30)
    response.raise_for_status()
    print(f"Posted drift alert for {len(features)} features.")


if __name__ == "__main__":
    main()
