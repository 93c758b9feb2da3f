"""Post deployment health alerts to Microsoft Teams."""

import json
import os

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


SEVERITY = {"warning": 1, "failing": 2}


def card(deployment: dr.Deployment, problems: list[str], url: str) -> dict:
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [
                        {
                            "type": "TextBlock",
                            "size": "Large",
                            "weight": "Bolder",
                            "color": "Attention",
                            "text": f"{deployment.label} needs attention",
                        },
                        *({"type": "TextBlock", "text": p, "wrap": True} for p in problems),
                    ],
                    "actions": [{"type": "Action.OpenUrl", "title": "Open deployment", "url": url}],
                },
            }
        ],
    }


def main() -> None:
    dr.Client()
    level = SEVERITY[runtime_param("ALERT_ON", "failing")]
    app_url = os.environ["DATAROBOT_ENDPOINT"].removesuffix("/api/v2")
    for deployment_id in runtime_param("DEPLOYMENT_IDS", "").split(","):
        deployment = dr.Deployment.get(deployment_id.strip())
        checks = {
            "Service health": deployment.service_health,
            "Accuracy": deployment.accuracy_health,
        }
        problems = [
            f"{name}: {status['status']}"
            for name, status in checks.items()
            if SEVERITY.get((status or {}).get("status"), 0) >= level
        ]
        if problems:
            url = f"{app_url}/console/{deployment.id}/overview"
            requests.post(
                runtime_param("TEAMS_WEBHOOK_URL"), json=card(deployment, problems, url), timeout=30
            ).raise_for_status()
            print(f"Alerted on {deployment.label}: {problems}")


if __name__ == "__main__":
    main()
