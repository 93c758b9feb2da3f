#!/usr/bin/env bash
# DataRobot routes traffic to port 8080 inside the application container.
set -euo pipefail
exec streamlit run app.py \
  --server.port=8080 \
  --server.address=0.0.0.0 \
  --server.headless=true \
  --browser.gatherUsageStats=false
