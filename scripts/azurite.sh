#!/usr/bin/env bash
# Azurite, the Azure Storage emulator (npm package), for the azure_blob state backend's tests.
#
#   scripts/azurite.sh install   install it under target/azurite (once; needs npm)
#   scripts/azurite.sh start     install if needed, start the Blob service on a free loopback
#                                port unless it already runs, and print its endpoint
#   scripts/azurite.sh endpoint  print the endpoint of the running instance (exit 1 if none)
#   scripts/azurite.sh stop      stop it
#
# Idempotent and safe to call from parallel test processes (a lock serializes them). The
# emulator listens on 127.0.0.1 only and keeps its data in target/azurite/data.
set -euo pipefail

VERSION="3.37.0"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DIR="${MESH_AZURITE_DIR:-$ROOT/target/azurite}"
BIN="$DIR/node_modules/.bin/azurite-blob"
RUN="$DIR/run"
ACCOUNT="devstoreaccount1"

die() { echo "azurite.sh: $*" >&2; exit 1; }

install() {
  if [ -x "$BIN" ] && grep -q "\"version\": \"$VERSION\"" "$DIR/node_modules/azurite/package.json" 2>/dev/null; then
    return 0
  fi
  command -v npm >/dev/null || die "npm is not installed: install Node.js (with npm) to run the azure_blob tests"
  mkdir -p "$DIR"
  npm install --prefix "$DIR" "azurite@$VERSION" --no-audit --no-fund --loglevel=error >&2 \
    || die "npm install azurite@$VERSION failed"
  [ -x "$BIN" ] || die "npm installed azurite but $BIN is missing"
}

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

running() {
  [ -f "$RUN/pid" ] && [ -f "$RUN/port" ] || return 1
  kill -0 "$(cat "$RUN/pid")" 2>/dev/null || return 1
  port_open "$(cat "$RUN/port")"
}

endpoint() {
  echo "http://127.0.0.1:$(cat "$RUN/port")/$ACCOUNT"
}

start() {
  install
  if running; then endpoint; return 0; fi
  mkdir -p "$RUN" "$DIR/data"
  local port
  port="$(free_port)"
  # setsid: the emulator outlives the test process that started it, and a Ctrl-C in the
  # terminal that ran the tests does not reach it.
  setsid "$BIN" --silent --skipApiVersionCheck --location "$DIR/data" \
    --blobHost 127.0.0.1 --blobPort "$port" >"$RUN/azurite.log" 2>&1 </dev/null 9>&- &
  echo $! >"$RUN/pid"
  echo "$port" >"$RUN/port"
  for _ in $(seq 1 300); do
    if port_open "$port"; then endpoint; return 0; fi
    kill -0 "$(cat "$RUN/pid")" 2>/dev/null || break
    sleep 0.1
  done
  cat "$RUN/azurite.log" >&2 || true
  die "azurite did not start listening on 127.0.0.1:$port"
}

stop() {
  if [ -f "$RUN/pid" ]; then
    kill "$(cat "$RUN/pid")" 2>/dev/null || true
    rm -f "$RUN/pid" "$RUN/port"
  fi
}

with_lock() {
  mkdir -p "$DIR"
  exec 9>"$DIR/.lock"
  flock 9
  "$@"
}

case "${1:-start}" in
  install) with_lock install ;;
  start) with_lock start ;;
  endpoint) running && endpoint ;;
  stop) with_lock stop ;;
  *) die "unknown command \"$1\": use install, start, endpoint or stop" ;;
esac
