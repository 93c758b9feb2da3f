"""Retrain a deployment's model and replace it when the new model is better."""

import json
import os

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


def validation_score(model: dr.Model, metric: str) -> float:
    return model.metrics[metric]["validation"]


def main() -> None:
    dr.Client()
    deployment = dr.Deployment.get(runtime_param("DEPLOYMENT_ID"))
    current = dr.Model.get(deployment.model["project_id"], deployment.model["id"])
    old_project = dr.Project.get(current.project_id)
    metric = old_project.metric

    dataset = dr.Dataset.get(runtime_param("DATASET_ID"))
    dataset.refresh()
    project = dr.Project.create_from_dataset(
        dataset.id, project_name=f"{old_project.project_name} (scheduled retrain)"
    )
    project.analyze_and_model(
        target=old_project.target, metric=metric, mode=dr.AUTOPILOT_MODE.QUICK, worker_count=-1
    )
    project.wait_for_autopilot()
    challenger = project.get_top_model()

    higher_is_better = metric.upper() in {"AUC", "R SQUARED", "GINI NORM", "ACCURACY"}
    gain = validation_score(challenger, metric) - validation_score(current, metric)
    gain = gain if higher_is_better else -gain
    print(
        f"{metric}: deployed={validation_score(current, metric):.4f} "
        f"new={validation_score(challenger, metric):.4f} gain={gain:.4f}"
    )
    if gain >= float(runtime_param("MIN_IMPROVEMENT", "0.005")):
        deployment.replace_model(challenger.id, dr.enums.MODEL_REPLACEMENT_REASON.SCHEDULED_REFRESH)
        print(f"Replaced model with {challenger.id}.")
    else:
        print("Kept the deployed model.")


if __name__ == "__main__":
    main()
