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
# Extensions the models' indexes need, created before any table (PostgreSQL only; autogenerate
# knows nothing of extensions): pg_trgm for the gin_trgm_ops search indexes (a trusted extension,
# so the database's owner may create it).
.venv/bin/python - <<'PY'
from pathlib import Path

path = Path("migrations/versions/0001_initial_schema.py")
text = path.read_text()
head = "def upgrade():\n"
assert text.count(head) == 1
path.write_text(text.replace(head, head + (
    "    # PostgreSQL only: the search indexes (gin_trgm_ops) need pg_trgm, a trusted extension.\n"
    "    if op.get_bind().dialect.name == \"postgresql\":\n"
    "        op.execute(\"CREATE EXTENSION IF NOT EXISTS pg_trgm\")\n")))
PY
ls migrations/versions
