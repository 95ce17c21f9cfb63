#!/bin/sh
# The benchmark harness in one command: build mesh (release), then measure and write
# docs/performance.md. Arguments go to bench/run.py (`bench/run.sh --help`; `--quick` to try).
set -eu
cd "$(dirname "$0")/.."
cargo build --release -p mesh-cli
BENCH_RUN_SH=1 exec python3 bench/run.py "$@"
