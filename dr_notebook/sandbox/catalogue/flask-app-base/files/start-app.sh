#!/usr/bin/env bash
# DataRobot routes traffic to port 8080 inside the application container; a local runner
# sets PORT (and BIND_ADDRESS) instead.
set -euo pipefail
exec python -m flask --app app run --host "${BIND_ADDRESS:-0.0.0.0}" --port "${PORT:-8080}"
