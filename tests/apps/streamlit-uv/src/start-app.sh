#!/usr/bin/env bash
set -euo pipefail
streamlit run --server.port=8080 streamlit_app.py
