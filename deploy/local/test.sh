#!/usr/bin/env bash
# The project's test command (README's second quickstart command; .ci/run calls it).
# Installs what is missing, runs the fast gates (deploy/local/check.sh: no services),
# then starts the real stack if it is not running, runs pytest on it, and stops what it
# started. Extra arguments go to pytest.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STACK="$REPO/deploy/local/stack.sh"
cd "$REPO"

"$STACK" install
"$REPO/deploy/local/check.sh"

started_here=0
if ! "$STACK" status >/dev/null; then
  started_here=1
  trap '"$STACK" stop' EXIT
fi
"$STACK" start
eval "$("$STACK" env)"
export GATEWAY_REQUIRE_STACK=1

printf '\n== %s\n' "pytest"
uv run --frozen pytest "$@"
