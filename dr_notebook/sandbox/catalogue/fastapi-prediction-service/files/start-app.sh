#!/usr/bin/env bash
set -euo pipefail
exec uvicorn main:app --host 0.0.0.0 --port 8080 --workers 2
