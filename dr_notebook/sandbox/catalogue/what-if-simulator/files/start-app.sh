#!/usr/bin/env bash
set -euo pipefail
[ -d dist ] || { npm ci && npm run build; }
exec node server.js
