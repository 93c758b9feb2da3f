#!/usr/bin/env bash
set -euo pipefail
exec gunicorn --bind 0.0.0.0:8080 --workers 2 --timeout 120 app:server
