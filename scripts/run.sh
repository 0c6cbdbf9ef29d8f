#!/usr/bin/env bash
# Sets up (first time) and runs the whole app: web, job workers, bridge. Arguments go to run.py
# (for example --demo).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
exec .venv/bin/python run.py "$@"
