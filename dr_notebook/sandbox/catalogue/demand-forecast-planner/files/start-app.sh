#!/usr/bin/env bash
# DataRobot routes traffic to port 8080 inside the application container; a local runner
# sets PORT (and BIND_ADDRESS) instead.
set -euo pipefail
exec streamlit run app.py \
  --server.port="${PORT:-8080}" \
  --server.address="${BIND_ADDRESS:-0.0.0.0}" \
  --server.headless=true \
  --browser.gatherUsageStats=false
