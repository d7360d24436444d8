#!/usr/bin/env bash
# The whole suite, twice: on SQLite (the embedded default) and on PostgreSQL (production).
# PostgreSQL is expected on 127.0.0.1:5432 (SYNNEFO_TEST_PG_HOST/PORT/USER to change); when it is
# absent the PostgreSQL pass is skipped with a reason, except under CI=true, where that fails.
set -uo pipefail
venv=${1:-.venv}
py="$venv/bin/python"
status=0

echo "=== test suite on SQLite ==="
SYNNEFO_TEST_DATABASE=sqlite "$py" -m pytest "${@:2}" || status=$?

echo "=== test suite on PostgreSQL ==="
if "$py" -m tests.pgcheck; then
    SYNNEFO_TEST_DATABASE=postgresql "$py" -m pytest "${@:2}" || status=$?
elif [ "${CI:-}" = "true" ]; then
    echo "PostgreSQL is required when CI=true" >&2
    status=1
else
    echo "SKIPPED: PostgreSQL pass (no server reachable; see above)"
fi
exit $status
