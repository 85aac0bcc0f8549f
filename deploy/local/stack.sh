#!/usr/bin/env bash
# Install, start, stop and inspect the local real stack: Elasticsearch, OPA, the fake
# upstream and (for `up`) the gateway itself. Everything lives under $GATEWAY_STACK_DIR
# (default: <repo>/.stack, git-ignored). Every subcommand is idempotent.
#
#   deploy/local/stack.sh install   Python deps (uv), Elasticsearch zip, OPA binary
#   deploy/local/stack.sh start     Elasticsearch + OPA + fake upstream, waits for health
#   deploy/local/stack.sh stop      stops what start/up started
#   deploy/local/stack.sh status    one line per service
#   deploy/local/stack.sh up        install + start + demo keys/corpus + gateway (background)
#   deploy/local/stack.sh es-config rewrites elasticsearch.yml from GATEWAY_STACK_* (start does too)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STACK="${GATEWAY_STACK_DIR:-$REPO/.stack}"
ES_VERSION="8.19.21"
ES_SHA256="215d5f3dbf0609a149f6218a9e47b6ae2df34ebbff3c5754e35f15a5e5393c8a"
ES_ARTIFACT="org.elasticsearch.distribution.integ-test-zip:elasticsearch:${ES_VERSION}:zip"
ES_PORT="${GATEWAY_STACK_ES_PORT:-9200}"
ES_HEAP="${GATEWAY_STACK_ES_HEAP:-512m}"
ES_USER="${GATEWAY_STACK_ES_USER:-gateway-es}"
OPA_VERSION="v1.22.2"
OPA_PORT="${GATEWAY_STACK_OPA_PORT:-8181}"
FAKE_PORT="${GATEWAY_STACK_FAKE_PORT:-8300}"
GATEWAY_PORT="${GATEWAY_STACK_GATEWAY_PORT:-8080}"
UV_VERSION="0.13.8"

ES_HOME="$STACK/elasticsearch-$ES_VERSION"
RUN="$STACK/run"
LOGS="$STACK/logs"
BIN="$STACK/bin"

log() { printf '[stack] %s\n' "$*" >&2; }
die() { printf '[stack] error: %s\n' "$*" >&2; exit 1; }

es_password() { cat "$STACK/secrets/elasticsearch-gateway.password"; }

pid_alive() { [[ -f "$RUN/$1.pid" ]] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

wait_http() { # name url seconds [user:password]  (credentials go through stdin, not argv)
  local name=$1 url=$2 deadline=$((SECONDS + $3)) auth=${4:-}
  until printf '%s' "${auth:+user = \"$auth\"}" | curl -K - -fsS -o /dev/null "$url" 2>/dev/null; do
    if ((SECONDS > deadline)); then
      log "$name did not become healthy at $url; last log lines:"
      tail -n 30 "$LOGS/$name.log" >&2 || true
      return 1
    fi
    if ! pid_alive "$name"; then
      log "$name exited during start-up; last log lines:"
      tail -n 30 "$LOGS/$name.log" >&2 || true
      return 1
    fi
    sleep 1
  done
}

python_env() {
  if ! command -v uv >/dev/null || [[ "$(uv --version | awk '{print $2}')" != "$UV_VERSION" ]]; then
    log "installing uv $UV_VERSION"
    python3 -m pip install --quiet "uv==$UV_VERSION"
  fi
  # Bytecode compiled once at install: without it every gateway and PII worker process
  # compiles ~1,500 modules from source at start-up (~3 CPU-s each), and nothing caches
  # them where PYTHONDONTWRITEBYTECODE is set or the venv is read-only.
  (cd "$REPO" && uv sync --frozen --quiet --compile-bytecode)
  # uv compiles the installed packages, not the editable project itself: ~300 more
  # modules every gateway and worker process would compile at start-up (~0.5 CPU-s).
  (cd "$REPO" && .venv/bin/python -m compileall -q gateway)
}

java_home() {
  if [[ -n "${ES_JAVA_HOME:-}" ]]; then echo "$ES_JAVA_HOME"; return; fi
  local java
  java="$(command -v java)" || die "Elasticsearch needs a JDK (17+); none found on PATH"
  dirname "$(dirname "$(readlink -f "$java")")"
}

install_elasticsearch() {
  if [[ -x "$ES_HOME/bin/elasticsearch" ]]; then return; fi
  local zip="$STACK/downloads/elasticsearch-$ES_VERSION.zip"
  mkdir -p "$STACK/downloads"
  if [[ ! -f "$zip" ]] || ! echo "$ES_SHA256  $zip" | sha256sum --check --quiet 2>/dev/null; then
    log "downloading Elasticsearch $ES_VERSION (integ-test-zip) with Maven"
    command -v mvn >/dev/null || die "mvn is needed to fetch Elasticsearch from Maven Central"
    mvn -q -B dependency:copy -Dartifact="$ES_ARTIFACT" -DoutputDirectory="$STACK/downloads"
  fi
  echo "$ES_SHA256  $zip" | sha256sum --check --quiet || die "Elasticsearch zip checksum mismatch: $zip"
  log "unpacking Elasticsearch $ES_VERSION"
  rm -rf "$ES_HOME.tmp" && mkdir -p "$ES_HOME.tmp"
  (cd "$ES_HOME.tmp" && unzip -q "$zip")
  mv "$ES_HOME.tmp/elasticsearch-$ES_VERSION" "$ES_HOME" && rmdir "$ES_HOME.tmp"
  configure_elasticsearch
}

# Security stays on (this distribution ships x-pack-security): HTTP on loopback without
# TLS, and a file-realm service user `gateway` that may only touch `gateway-*` indices:
# the chunks (`<prefix>-chunks-v1`), the audit index (`<prefix>-audit`), the
# fine-tuning registry (`<prefix>-finetune-v1`), the Responses owners
# (`<prefix>-responses-v1`), the shared rate-limit counts (`<prefix>-ratelimits-v1`) and
# the review sessions (`<prefix>-review-sessions-v1`), all created by the gateway itself.
# The file realm needs no .security index, which this distribution cannot create.
#
# elasticsearch.yml names ports and directories, so it is rewritten on every start from
# the current GATEWAY_STACK_* settings (not only at install): a changed
# GATEWAY_STACK_ES_PORT takes effect on the next start.
es_config() {
  cat <<YML
cluster.name: gateway-local
discovery.type: single-node
network.host: 127.0.0.1
http.port: $ES_PORT
transport.port: 0
path.data: $STACK/es-data
path.logs: $STACK/es-logs
action.destructive_requires_name: false
xpack.security.enabled: true
xpack.security.autoconfiguration.enabled: false
xpack.security.http.ssl.enabled: false
xpack.security.transport.ssl.enabled: false
xpack.security.authc.realms.file.file1.order: 0
YML
}

write_es_config() {
  local target="$ES_HOME/config/elasticsearch.yml"
  [[ -d "$ES_HOME/config" ]] || die "Elasticsearch is not installed in $ES_HOME"
  es_config >"$target.tmp" && mv "$target.tmp" "$target"
}

configure_elasticsearch() {
  write_es_config
  cat >"$ES_HOME/config/roles.yml" <<YML
gateway_service:
  cluster: [monitor]
  indices:
    - names: ["gateway-*"]
      privileges: [all]
YML
  mkdir -p "$STACK/secrets" && chmod 700 "$STACK/secrets"
  local pwfile="$STACK/secrets/elasticsearch-gateway.password"
  [[ -s "$pwfile" ]] || (umask 077 && head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$pwfile")
  ES_JAVA_HOME="$(java_home)" "$ES_HOME/bin/elasticsearch-users" useradd gateway \
    -p "$(cat "$pwfile")" -r gateway_service >/dev/null
}

install_opa() {
  if [[ -x "$BIN/opa" ]] && "$BIN/opa" version 2>/dev/null | grep -q "^Version: ${OPA_VERSION#v}$"; then return; fi
  command -v go >/dev/null || die "go is needed to build OPA ($OPA_VERSION)"
  log "building OPA $OPA_VERSION with go install (about two minutes on 2 cores)"
  mkdir -p "$BIN"
  GOBIN="$BIN" GOFLAGS=-buildvcs=false go install "github.com/open-policy-agent/opa@$OPA_VERSION"
}

cmd_install() {
  mkdir -p "$STACK" "$RUN" "$LOGS" "$BIN"
  python_env
  install_elasticsearch
  install_opa
  "$REPO/deploy/local/browser.sh"  # Debian's chromium for the review page's browser tests
  log "installed: Elasticsearch $ES_VERSION, OPA $OPA_VERSION, Python env in $REPO/.venv"
}

# Elasticsearch refuses to run as root: when we are root, it runs as a dedicated system
# user that owns only its own home, data and logs.
es_user_setup() {
  [[ $EUID -eq 0 ]] || return 0
  id "$ES_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$ES_USER"
  chown -R "$ES_USER" "$ES_HOME" "$STACK/es-data" "$STACK/es-logs"
  local dir="$ES_HOME"
  while [[ "$dir" != "/" ]]; do
    dir="$(dirname "$dir")"
    if ! runuser -u "$ES_USER" -- test -x "$dir"; then
      log "granting $ES_USER traverse (o+x) on $dir"
      chmod o+x "$dir"
    fi
  done
}

start_elasticsearch() {
  if pid_alive elasticsearch; then return; fi
  mkdir -p "$STACK/es-data" "$STACK/es-logs"
  write_es_config
  es_user_setup
  local -a as_user=()
  [[ $EUID -eq 0 ]] && as_user=(runuser -u "$ES_USER" --)
  log "starting Elasticsearch on 127.0.0.1:$ES_PORT (heap $ES_HEAP)"
  ES_JAVA_HOME="$(java_home)" ES_JAVA_OPTS="-Xms$ES_HEAP -Xmx$ES_HEAP" \
    setsid "${as_user[@]}" "$ES_HOME/bin/elasticsearch" >"$LOGS/elasticsearch.log" 2>&1 &
  echo $! >"$RUN/elasticsearch.pid"
}

start_opa() {
  if pid_alive opa; then return; fi
  log "starting OPA on 127.0.0.1:$OPA_PORT serving $REPO/policies (--watch)"
  setsid "$BIN/opa" run --server --addr "127.0.0.1:$OPA_PORT" --watch \
    --set decision_logs.console=true --log-format json \
    --ignore '*_test.rego' "$REPO/policies" >"$LOGS/opa.log" 2>&1 &
  echo $! >"$RUN/opa.pid"
}

start_fake_upstream() {
  if pid_alive fake-upstream; then return; fi
  log "starting the fake upstream on 127.0.0.1:$FAKE_PORT"
  setsid "$REPO/.venv/bin/python" "$REPO/deploy/local/fake_upstream.py" --host 127.0.0.1 --port "$FAKE_PORT" \
    >"$LOGS/fake-upstream.log" 2>&1 &
  echo $! >"$RUN/fake-upstream.pid"
}

cmd_start() {
  [[ -x "$ES_HOME/bin/elasticsearch" && -x "$BIN/opa" ]] || cmd_install
  mkdir -p "$RUN" "$LOGS"
  start_elasticsearch
  start_opa
  start_fake_upstream
  wait_http opa "http://127.0.0.1:$OPA_PORT/health?bundles" 60
  wait_http fake-upstream "http://127.0.0.1:$FAKE_PORT/v1/models" 60
  wait_http elasticsearch "http://127.0.0.1:$ES_PORT/_cluster/health?wait_for_status=yellow&timeout=1s" 180 \
    "gateway:$(es_password)"
  log "stack ready: elasticsearch :$ES_PORT  opa :$OPA_PORT  fake-upstream :$FAKE_PORT"
}

stop_one() {
  local name=$1
  if pid_alive "$name"; then
    local pid; pid="$(cat "$RUN/$name.pid")"
    log "stopping $name (pid $pid)"
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$RUN/$name.pid"
}

cmd_stop() {
  for name in gateway fake-upstream opa elasticsearch; do stop_one "$name"; done
}

cmd_status() {
  local rc=0
  for name in elasticsearch opa fake-upstream gateway; do
    if pid_alive "$name"; then echo "$name: running (pid $(cat "$RUN/$name.pid"))"
    else echo "$name: stopped"; [[ $name == gateway ]] || rc=3; fi
  done
  return $rc
}

# Environment for a gateway talking to this stack: `eval "$(deploy/local/stack.sh env)"`.
stack_env() {
  local -A vars=(
    [GATEWAY_UPSTREAM_BASE_URL]="http://127.0.0.1:$FAKE_PORT/v1"
    [GATEWAY_UPSTREAM_API_KEY]="sk-fake-upstream-key"
    [GATEWAY_ELASTICSEARCH_URL]="http://127.0.0.1:$ES_PORT"
    [GATEWAY_ELASTICSEARCH_USERNAME]="gateway"
    [GATEWAY_ELASTICSEARCH_PASSWORD]="$(es_password)"
    [GATEWAY_OPA_URL]="http://127.0.0.1:$OPA_PORT"
    [GATEWAY_AUDIT_DIR]="$STACK/audit"
    [GATEWAY_API_KEYS_FILE]="$REPO/deploy/local/demo/api-keys.yaml"
    [GATEWAY_HOST]="127.0.0.1"
    [GATEWAY_PORT]="$GATEWAY_PORT"
    [STACK_FAKE_UPSTREAM_URL]="http://127.0.0.1:$FAKE_PORT"
    [STACK_OPA_BIN]="$BIN/opa"
  )
  local name
  for name in $(printf '%s\n' "${!vars[@]}" | sort); do
    printf 'export %s=%q\n' "$name" "${vars[$name]}"
  done
}

cmd_up() {
  cmd_install
  cmd_start
  eval "$(stack_env)"
  "$REPO/.venv/bin/gateway" ingest "$REPO/deploy/local/demo/corpus" --corpus acme-handbook \
    --manifest "$REPO/deploy/local/demo/corpus/manifest.yaml"
  if ! pid_alive gateway; then
    log "starting the gateway on http://127.0.0.1:$GATEWAY_PORT"
    setsid "$REPO/.venv/bin/gateway" serve >"$LOGS/gateway.log" 2>&1 &
    echo $! >"$RUN/gateway.pid"
  fi
  wait_http gateway "http://127.0.0.1:$GATEWAY_PORT/readyz" 60
  cat >&2 <<MSG
[stack] the gateway is listening on http://127.0.0.1:$GATEWAY_PORT/v1
[stack]   demo API keys: see deploy/local/demo/README.md (e.g. sk-demo-alice)
[stack]   logs: $LOGS/   stop everything: deploy/local/stack.sh stop
MSG
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  up) cmd_up ;;
  env) stack_env ;;
  es-config) write_es_config && cat "$ES_HOME/config/elasticsearch.yml" ;;
  *) echo "usage: $0 {install|start|stop|status|up|env|es-config}" >&2; exit 2 ;;
esac
