#!/usr/bin/env bash
# Installs what is needed, then runs the whole test suite (lint first).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export QT_QPA_PLATFORM=offscreen
.venv/bin/ruff check .
.venv/bin/python -m pytest -q "$@"
