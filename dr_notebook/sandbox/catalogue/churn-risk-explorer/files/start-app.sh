#!/usr/bin/env bash
set -euo pipefail
exec gunicorn --bind "${BIND_ADDRESS:-0.0.0.0}:${PORT:-8080}" --workers 1 --timeout 120 app:server
