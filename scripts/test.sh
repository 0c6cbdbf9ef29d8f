#!/usr/bin/env bash
# Sets up (first time) and runs the tests. With a PostgreSQL server answering on 127.0.0.1:5432
# the whole suite runs on it, then the database-level suites run again on SQLite; without one,
# everything runs on SQLite. Redis: the local server if it answers, else an embedded one.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
if .venv/bin/python -c "import psycopg,sys; psycopg.connect('host=127.0.0.1 user=postgres dbname=postgres', connect_timeout=2).close()" 2>/dev/null; then
  echo "== PostgreSQL =="
  TEST_DATABASE=postgresql .venv/bin/python -m pytest "$@"
  echo "== SQLite =="
  TEST_DATABASE=sqlite .venv/bin/python -m pytest -m "not browser and not slow" "$@"
else
  echo "== SQLite (no PostgreSQL server answered) =="
  TEST_DATABASE=sqlite .venv/bin/python -m pytest "$@"
fi
