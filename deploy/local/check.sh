#!/usr/bin/env bash
# Fast gates that need no running service: ruff (format + lint), mypy strict (the
# package, its tests and the benchmark scripts), and OPA's
# own fmt/check/test on policies/. Runs first in the test command, so a lint or type
# error fails in seconds, before Elasticsearch starts. Needs `stack.sh install` once
# (Python environment and the OPA binary).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STACK="${GATEWAY_STACK_DIR:-$REPO/.stack}"
OPA="${STACK_OPA_BIN:-$STACK/bin/opa}"
cd "$REPO"

step() { printf '\n== %s\n' "$*"; }
step "ruff format --check"; uv run --frozen ruff format --check gateway tests deploy
step "ruff check";          uv run --frozen ruff check gateway tests deploy
step "mypy --strict gateway tests"; uv run --frozen mypy gateway tests
step "opa fmt / check / test"
unformatted="$("$OPA" fmt --list policies)"
[[ -z "$unformatted" ]] || { echo "opa fmt would change: $unformatted"; exit 1; }
"$OPA" check --strict policies
"$OPA" test policies -v
