#!/usr/bin/env bash
# Until the first release the schema is one migration, regenerated from the models.
# After the first release: never edit it; add a new revision with `flask db migrate`.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
rm -f migrations/versions/0001_initial_schema.py
INSTANCE_DIR=$tmp FLASK_APP="app:create_app" .venv/bin/flask db migrate -m "initial schema" --rev-id 0001 >/dev/null 2>&1
mv migrations/versions/0001_initial_schema.py migrations/versions/0001_initial_schema.py 2>/dev/null || true
rm -rf "$tmp"
ls migrations/versions
