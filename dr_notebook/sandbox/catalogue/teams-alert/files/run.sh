#!/usr/bin/env bash
# Entry point of the custom job. DataRobot injects DATAROBOT_ENDPOINT, DATAROBOT_API_TOKEN
# and the runtime parameters as MLOPS_RUNTIME_PARAM_* variables.
set -euo pipefail
cd "$(dirname "$0")"
exec python job.py "$@"
