#!/usr/bin/env bash
set -euo pipefail
exec uvicorn main:app --host "${BIND_ADDRESS:-0.0.0.0}" --port "${PORT:-8080}" --workers 2
