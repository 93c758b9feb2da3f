#!/usr/bin/env sh
# A failed install must fail the build.
set -e
npm install --no-audit --no-fund
cd client
npm install --no-audit --no-fund
npm run build
