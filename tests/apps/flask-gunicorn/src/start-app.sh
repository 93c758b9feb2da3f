#!/usr/bin/env bash
set -euo pipefail
exec gunicorn --bind 0.0.0.0:8080 --workers 1 app:app
