#!/usr/bin/env bash
# Idempotent set-up from a fresh clone: Chromium (Debian packages, when run as root), virtual
# environment, Python packages, npm packages, compiled translations. Sourced by scripts/run.sh and
# scripts/test.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-python3}
bash scripts/install-chromium.sh
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.requirements.sha
want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -r requirements.txt
  echo "$want" > "$stamp"
fi
if [ -f package.json ]; then
  want=$(sha256sum package-lock.json 2>/dev/null | cut -d' ' -f1)
  if [ ! -d node_modules ] || [ "$(cat node_modules/.lock.sha 2>/dev/null)" != "$want" ]; then
    npm ci --no-audit --no-fund --silent
    echo "$want" > node_modules/.lock.sha
  fi
fi
.venv/bin/python -m app.i18n compile
