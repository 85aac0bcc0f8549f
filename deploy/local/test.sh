#!/usr/bin/env bash
# The project's test command (README's second quickstart command; .ci/run calls it).
# Installs what is missing, starts the real stack if it is not running, runs every gate,
# and stops what it started. Extra arguments go to pytest.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STACK="$REPO/deploy/local/stack.sh"
cd "$REPO"

"$STACK" install
started_here=0
if ! "$STACK" status >/dev/null; then
  started_here=1
  trap '"$STACK" stop' EXIT
fi
"$STACK" start
eval "$("$STACK" env)"
export GATEWAY_REQUIRE_STACK=1
OPA="${STACK_OPA_BIN}"

step() { printf '\n== %s\n' "$*"; }
step "ruff format --check"; uv run --frozen ruff format --check gateway tests deploy
step "ruff check";          uv run --frozen ruff check gateway tests deploy
step "mypy --strict gateway"; uv run --frozen mypy gateway
step "opa fmt / check / test"
unformatted="$("$OPA" fmt --list policies)"
[[ -z "$unformatted" ]] || { echo "opa fmt would change: $unformatted"; exit 1; }
"$OPA" check --strict policies
"$OPA" test policies -v
step "pytest"
uv run --frozen pytest "$@"
