#!/usr/bin/env bash
# The kiosk's main job on a fresh machine: install what is needed, then `kiosk demo`: the checkpoint on
# simulated hardware (real drivers against their simulators) with an embedded SQLite data directory,
# demo issuer and root keys, a signed status list and a dozen travellers; where ../shared/corpora is
# present, an EU DCC and a SMART Health Card follow at their own time.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/kiosk demo "$@"
