"""Drift-gated retraining that adds the new model as a challenger."""

import json
import os
from datetime import datetime, timedelta, timezone

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


MAX_CHALLENGERS = 4


def max_drift(deployment: dr.Deployment) -> float:
    end = datetime.now(timezone.utc)
    drift = deployment.get_feature_drift(start_time=end - timedelta(days=7), end_time=end)
    return max((d.drift_score or 0.0 for d in drift), default=0.0)


def main() -> None:
    dr.Client()
    deployment = dr.Deployment.get(runtime_param("DEPLOYMENT_ID"))
    drift = max_drift(deployment)
    if drift < float(runtime_param("DRIFT_THRESHOLD", "0.2")):
        print(f"Max drift {drift:.3f} is below the threshold; nothing to do.")
        return
    champion = dr.Project.get(deployment.model["project_id"])
    project = dr.Project.create_from_dataset(
        runtime_param("DATASET_ID"), project_name=f"{champion.project_name} challenger"
    )
    project.analyze_and_model(target=champion.target, mode=dr.AUTOPILOT_MODE.QUICK)
    project.wait_for_autopilot()
    model = project.get_top_model()
    package = dr.RegisteredModelVersion.create_for_leaderboard_item(model.id)

    challengers = sorted(dr.Challenger.list(deployment.id), key=lambda c: c.id)
    if len(challengers) >= MAX_CHALLENGERS:
        challengers[0].delete()
    dr.Challenger.create(
        deployment.id,
        model_package_id=package.id,
        prediction_environment_id=deployment.prediction_environment["id"],
        name=f"Retrained {datetime.now(timezone.utc):%Y-%m-%d}",
    )
    print(f"Drift {drift:.3f}: added challenger {model.id} ({model.model_type}).")


if __name__ == "__main__":
    main()
