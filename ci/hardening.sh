#!/usr/bin/env bash
# Hardening checks of kcom-sample: fuzzing, AddressSanitizer (with leak
# detection), ThreadSanitizer, loom model checks, and Miri (the feature
# matrix, Tree Borrows, the threaded tests under several seeds).
#
#   bash ci/hardening.sh                 everything (what CI runs)
#   bash ci/hardening.sh fuzz            only the fuzz targets
#   bash ci/hardening.sh asan tsan       only the sanitizer runs
#   bash ci/hardening.sh loom            only the loom model checks
#   bash ci/hardening.sh miri            only Miri (matrix, Tree Borrows, seeds)
#
# Environment:
#   FUZZ_SECONDS          time per fuzz target (default 60)
#   FUZZ_TARGETS          the fuzz targets to run, space-separated (default:
#                         all four; fuzz_image runs the driver image, which
#                         this script builds with ci/driver-image.sh)
#   HARDENING_TARGET_DIR  build directory (default target/hardening); each
#                         run gets its own subdirectory, since sanitizer and
#                         fuzz builds use other compiler flags than `cargo test`
#   MIRI_SEEDS            extra seeds for the threaded tests (default 4: seeds
#                         1..=4; seed 0 is the plain Miri run of tests-host)
#
# Everything runs on the nightly toolchain (Miri, -Zsanitizer, -Zbuild-std
# and libFuzzer need it); the script installs what it needs (nightly with
# miri and rust-src, cargo-fuzz) and fails on the first error.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

FUZZ_SECONDS=${FUZZ_SECONDS:-60}
MIRI_SEEDS=${MIRI_SEEDS:-4}
TARGET_BASE=${HARDENING_TARGET_DIR:-$PWD/target/hardening}
HOST=x86_64-unknown-linux-gnu
read -r -a FUZZ_TARGETS <<<"${FUZZ_TARGETS:-fuzz_dispatch fuzz_protocol fuzz_strategies fuzz_image}"
CARGO_FUZZ_VERSION=0.13.2

if [ $# -eq 0 ]; then
  set -- fuzz asan tsan loom miri
fi

section() { printf '\n==== hardening: %s (%ss)\n' "$*" "$SECONDS"; }

section "toolchain"
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
rustup component add miri rust-src --toolchain nightly
# The AddressSanitizer run covers kmdf-host's tests, which build the fixture
# driver images with the toolchain in use: nightly needs the Windows target.
rustup target add x86_64-pc-windows-msvc --toolchain nightly
rustc +nightly --version

# The sanitizer runs build the standard library with the sanitizer
# (-Zbuild-std) for the host target given explicitly, so proc macros and
# build scripts (host artifacts) stay uninstrumented. The workspace builds
# with panic = "abort" (the driver's setting); tests need unwinding, and
# -Zbuild-std must build one standard library for all of them, so these
# runs use panic = "unwind".
sanitized_test() {
  local sanitizer=$1
  shift
  CARGO_PROFILE_DEV_PANIC=unwind \
    RUSTFLAGS="-Zsanitizer=$sanitizer" \
    RUSTDOCFLAGS="-Zsanitizer=$sanitizer" \
    cargo +nightly test -Zbuild-std --target "$HOST" \
    --target-dir "$TARGET_BASE/$sanitizer" "$@"
}

run_fuzz() {
  section "fuzz: install cargo-fuzz"
  if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
    cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
  fi
  section "fuzz: build (release, debug assertions, AddressSanitizer)"
  cargo +nightly fuzz build --target-dir "$TARGET_BASE/fuzz"
  local summary="" image="" dispatch_speed=""
  for t in "${FUZZ_TARGETS[@]}"; do
    section "fuzz: $t for ${FUZZ_SECONDS}s"
    local work log extra=()
    if [ "$t" = fuzz_image ]; then
      # The debug image (overflow checks and debug assertions on).
      image=$(bash ci/driver-image.sh | tail -n 1)
      [ -f "$image" ] || { echo "ci/driver-image.sh printed no image path (got '$image')"; exit 1; }
      # The target keeps the loaded driver between inputs, so the host heap
      # grows and shrinks across them: libFuzzer's per-input leak check
      # would scan the heap after nearly every input. The target checks
      # the driver's pools itself, after every request and input.
      extra=(-detect_leaks=0)
    fi
    work=$(mktemp -d)
    log="$work/log"
    mkdir -p "$work/corpus" "$work/artifacts"
    # New inputs go to the scratch corpus; the seeds in fuzz/corpus are
    # only read. -timeout turns a hang into a failure.
    if ! KCOM_SAMPLE_IMAGE=$image cargo +nightly fuzz run --target-dir "$TARGET_BASE/fuzz" "$t" \
      "$work/corpus" "fuzz/corpus/$t" -- \
      -max_total_time="$FUZZ_SECONDS" -timeout=10 -print_final_stats=1 \
      -artifact_prefix="$work/artifacts/" "${extra[@]}" >"$log" 2>&1; then
      tail -n 60 "$log"
      echo "fuzz target $t FAILED; reproducer(s):"
      for f in "$work"/artifacts/*; do
        [ -e "$f" ] || continue
        echo "  $f"
        echo "  base64: $(base64 -w0 "$f")"
      done
      exit 1
    fi
    local runs speed
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    grep -E '^#[0-9]+[[:space:]]+DONE' "$log" || true
    echo "$t: $runs executions, $speed exec/s"
    summary+="$t: $runs executions in ${FUZZ_SECONDS}s, $speed exec/s"$'\n'
    if [ "$t" = fuzz_dispatch ]; then dispatch_speed=$speed; fi
    if [ "$t" = fuzz_image ] && [ -n "$dispatch_speed" ] && [ "$dispatch_speed" -gt 0 ]; then
      # BENCHMARKS.md records this ratio (same run, same machine).
      summary+="fuzz_image / fuzz_dispatch exec/s: $(awk -v a="$speed" -v b="$dispatch_speed" 'BEGIN { printf "%.4f", a / b }')"$'\n'
    fi
    rm -rf "$work"
  done
  section "fuzz: summary"
  printf '%s' "$summary"
}

run_asan() {
  section "AddressSanitizer + LeakSanitizer: host test suite"
  # Excluded: `macro_misuse_is_rejected` (trybuild runs rustc and compares
  # its messages with the stable toolchain's; a nightly sanitizer build
  # prints different ones and proves nothing about memory safety).
  ASAN_OPTIONS=detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1 \
    sanitized_test address --workspace --lib --tests -- --skip macro_misuse_is_rejected
  # The workspace run above has kcom's `wdk-alloc-align` on (the driver core
  # enables it); kcom on its own is the build without it.
  section "AddressSanitizer + LeakSanitizer: kcom without wdk-alloc-align"
  ASAN_OPTIONS=detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1 \
    sanitized_test address -p kcom --lib --tests
}

run_tsan() {
  section "ThreadSanitizer: concurrency tests"
  # The test binaries that share objects between threads: COM reference
  # counts, Locked strategies, concurrent dispatch, async wakers, the
  # simulated pool's lock.
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    sanitized_test thread -p tests-host \
    --test concurrency --test com_runtime --test strategies_locked \
    --test dispatch --test async_com --test sim_pool
}

run_loom() {
  section "loom: reference count and spin lock, every interleaving"
  # `--cfg loom` switches kcom's reference count and SpinLock to loom's
  # atomics (stable toolchain; release mode keeps the exploration fast).
  RUSTFLAGS="--cfg loom" cargo test --release --target-dir "$TARGET_BASE/loom" \
    -p kcom --test loom
}

run_miri() {
  # Every feature set users can choose on the host, for kcom on its own (a
  # build with kcom-sample-core in it would turn on the features the core
  # needs). `driver` and `async-com-kernel` need the WDK (Windows only).
  local sets=("" "async-com" "async-impl" "wdk-alloc-align" "async-impl,wdk-alloc-align")
  for features in "${sets[@]}"; do
    local flags=()
    local label=${features:-default}
    if [ -n "$features" ]; then
      flags=(--features "$features")
    fi
    section "miri: kcom, features: $label"
    cargo +nightly miri test --target-dir "$TARGET_BASE/miri" -p kcom "${flags[@]}"
  done
  # The core always has the kcom features it enables.
  section "miri: kcom-sample-core"
  cargo +nightly miri test --target-dir "$TARGET_BASE/miri" -p kcom-sample-core

  # Tree Borrows: the aliasing model Stacked Borrows approximates, stricter
  # in places (and looser in others), so code that passes both does not
  # rely on one model's leniency. kcom's unit tests with every host feature
  # (the build above), then the host tests that drive kcom's unsafe code:
  # COM objects and shims, boxes and in-place initialisation, the strategies
  # against their models, the simulated pool, the async executor. Left out,
  # to keep this step near 3 minutes on CI's 2 cores: the driver-logic tests
  # (dispatch, exercises, concurrency), the slowest under Miri, and
  # strategies_api2 (kcom's own Api2 tests run here); they run under Stacked
  # Borrows in CI's `miri: host tests` step.
  section "miri: Tree Borrows: kcom"
  MIRIFLAGS="-Zmiri-tree-borrows" cargo +nightly miri test --target-dir "$TARGET_BASE/miri" \
    -p kcom --features async-impl,wdk-alloc-align --lib
  # The host tests use Cargo's default target directory, the one CI's
  # `miri: host tests` step has just built (nothing is rebuilt: Miri's flags
  # apply when the tests run).
  section "miri: Tree Borrows: host tests over kcom's unsafe code"
  MIRIFLAGS="-Zmiri-tree-borrows" cargo +nightly miri test -p tests-host \
    --test com_runtime --test com_seed --test init_box --test kbox \
    --test async_com --test sim_pool --test strategies_model --test strategies_locked

  # Every test that shares memory between threads, under more schedules:
  # each seed makes Miri pick other thread interleavings and weak-memory
  # outcomes (seed 0, the default, ran in `miri: host tests`). Four more
  # seeds take about 2.5 minutes on CI's 2 cores (Miri runs two at a time).
  local seeds="1..$((MIRI_SEEDS + 1))"
  section "miri: threaded tests, seeds $seeds"
  MIRIFLAGS="-Zmiri-many-seeds=$seeds" cargo +nightly miri test -p tests-host \
    --test concurrency --test strategies_locked --test async_com
  MIRIFLAGS="-Zmiri-many-seeds=$seeds" cargo +nightly miri test -p tests-host \
    --test com_runtime --test dispatch --test sim_pool -- \
    many_threads com_rc_is_send_and_sync four_threads_dispatch parallel_tags
}

for step in "$@"; do
  case "$step" in
    fuzz) run_fuzz ;;
    asan) run_asan ;;
    tsan) run_tsan ;;
    loom) run_loom ;;
    miri) run_miri ;;
    *)
      echo "unknown step '$step' (expected: fuzz asan tsan loom miri)" >&2
      exit 2
      ;;
  esac
done
section "done"
