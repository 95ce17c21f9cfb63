#!/usr/bin/env bash
# Fuzz mesh's input decoders for a bounded time per target.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Targets (fuzz/src/lib.rs): hcl_parse, eval_expression, state_load, plan_load; all by default.
# With a nightly toolchain (cargo-fuzz is then installed by this script when missing), each target runs
# under libFuzzer (coverage-guided); otherwise under fuzz/src/bin/stable_fuzz.rs, a seeded
# mutation fuzzer on stable Rust (MESH_FUZZ_SEED picks the seed; MESH_FUZZ_ENGINE=stable forces
# it). Both start from fuzz/corpus/TARGET plus the matching tests/corpus and specs files.
# Crashing inputs land in fuzz/artifacts/TARGET/. Exit status: non-zero when any target crashed.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:-60}"
shift || true
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
    targets=(hcl_parse eval_expression state_load plan_load)
fi

# Seed inputs beyond fuzz/corpus/TARGET, relative to the repository root.
seeds_for() {
    case "$1" in
        hcl_parse) echo "specs tests/corpus/specs tests/corpus/vars" ;;
        eval_expression) echo "" ;;
        state_load) echo "tests/corpus/state" ;;
        plan_load) echo "tests/corpus/plans" ;;
        *) echo "unknown target $1" >&2; exit 2 ;;
    esac
}

engine="${MESH_FUZZ_ENGINE:-}"
if [ -z "$engine" ]; then
    if cargo +nightly --version >/dev/null 2>&1; then
        # libFuzzer needs nightly; with it, cargo-fuzz is installed here (from crates.io) when
        # missing, so a machine with nightly gets coverage-guided fuzzing without setup.
        if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
            echo "installing cargo-fuzz (cargo install --locked cargo-fuzz)" >&2
            cargo install --locked cargo-fuzz >&2 || true
        fi
    fi
    if cargo +nightly --version >/dev/null 2>&1 && cargo +nightly fuzz --version >/dev/null 2>&1; then
        engine=libfuzzer
    else
        engine=stable
    fi
fi
echo "fuzzing ${targets[*]} for ${seconds}s each with $engine" >&2

cd "$root/fuzz"
status=0
summary=()
if [ "$engine" = libfuzzer ]; then
    for target in "${targets[@]}"; do
        # libFuzzer adds what it finds to the first directory: a scratch one, so that the
        # checked-in seeds stay small.
        scratch="target/fuzz-corpus/$target"
        mkdir -p "$scratch" "corpus/$target"
        dirs=("$scratch" "corpus/$target")
        for dir in $(seeds_for "$target"); do dirs+=("$root/$dir"); done
        if cargo +nightly fuzz run "$target" "${dirs[@]}" -- \
            -max_total_time="$seconds" -max_len=8192 -timeout=20 -rss_limit_mb=2048; then
            summary+=("$target: no crash")
        else
            summary+=("$target: CRASHED (see fuzz/artifacts/$target)")
            status=1
        fi
    done
else
    cargo build --release --no-default-features --bin stable-fuzz >&2
    runner="$root/fuzz/target/release/stable-fuzz"
    seed="${MESH_FUZZ_SEED:-$(date +%s)}"
    for target in "${targets[@]}"; do
        dirs=()
        for dir in $(seeds_for "$target"); do dirs+=("$root/$dir"); done
        if line="$("$runner" "$target" "$seconds" --seed "$seed" "${dirs[@]}")"; then
            summary+=("$line")
        else
            summary+=("$line (CRASHED: see fuzz/artifacts/$target)")
            status=1
        fi
    done
    echo "target	runs	seconds	distinct crashes (seed $seed)"
fi
printf '%s\n' "${summary[@]}"
exit "$status"
