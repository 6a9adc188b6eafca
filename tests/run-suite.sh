#!/usr/bin/env bash
# The whole suite: the SQLite pass and the PostgreSQL pass side by side (about half of each pass's wall
# time is spent waiting on browsers, subprocesses and sockets, so together they take little more than
# the longer one). Each pass has its own Redis databases; the PostgreSQL pass's output is printed after
# the SQLite pass's. Usage: tests/run-suite.sh BIN JOBS [pytest arguments...]
set -uo pipefail
bin=$1; jobs=$2; shift 2
log=$(mktemp "${TMPDIR:-/tmp}/oss-connect-postgresql-pass.XXXXXX")
trap 'rm -f "$log"' EXIT
OSS_CONNECT_TEST_REDIS_DBS=10-15 "$bin/pytest" -n "$jobs" --db postgresql -p no:cacheprovider --durations=15 "$@" >"$log" 2>&1 &
postgresql=$!
OSS_CONNECT_TEST_REDIS_DBS=4-9 "$bin/pytest" -n "$jobs" --db sqlite --durations=15 "$@"
sqlite_status=$?
wait "$postgresql"
postgresql_status=$?
echo
echo "==================== the PostgreSQL pass ===================="
cat "$log"
echo
echo "SQLite pass: exit $sqlite_status; PostgreSQL pass: exit $postgresql_status"
[ "$sqlite_status" -eq 0 ] && [ "$postgresql_status" -eq 0 ]
