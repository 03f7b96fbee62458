#!/usr/bin/env bash
# kcom's COM workloads against kcom-rs v0.5, in instructions (callgrind).
#
#   KCOM_RS_DIR=/path/to/kcom-rs bash ci/kcom-rs-bench.sh [harness options/filters]
#
# KCOM_RS_DIR   a checkout of the kcom-rs repository (exveria1015/kcom-rs) at
#               version 0.5.0 (measured: commit e1e7383), OUTSIDE this
#               repository; its code is never copied here.
# KCOM_RS_BUILD where the runner is built (default: /tmp/kcom-rs-runner),
#               also outside the repository.
#
# The runner (bench/kcom-rs/runner.rs) is built as its own package with
# kcom-rs as `kcom_rs`, this repository's kcom (for the Pool) and kcom-bench
# (groups, step loop), then the instruction harness counts both sides. Not
# part of CI (it needs the kcom-rs sources).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
: "${KCOM_RS_DIR:?set KCOM_RS_DIR to a checkout of kcom-rs 0.5.0 (outside this repository)}"
kcom_rs=$(cd "$KCOM_RS_DIR" && pwd)
build=${KCOM_RS_BUILD:-/tmp/kcom-rs-runner}
case "$kcom_rs/" in "$repo"/*)
  echo "KCOM_RS_DIR must be outside this repository" >&2
  exit 2
  ;;
esac
case "$build/" in "$repo"/*)
  echo "KCOM_RS_BUILD must be outside this repository" >&2
  exit 2
  ;;
esac
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$kcom_rs/Cargo.toml" | head -n1)
case "$version" in
  0.5.*) ;;
  *)
    echo "kcom-rs at $kcom_rs is version '$version', expected 0.5.x" >&2
    exit 2
    ;;
esac

mkdir -p "$build"
cat >"$build/Cargo.toml" <<TOML
[package]
name = "kcom-rs-runner"
version = "0.0.0"
edition = "2024"
publish = false

[[bin]]
name = "kcom-rs-runner"
path = "$repo/bench/kcom-rs/runner.rs"

[dependencies]
kcom_rs = { package = "kcom", path = "$kcom_rs" }
kcom = { path = "$repo/kcom" }
kcom-bench = { path = "$repo/bench" }

# The same code generation as the workspace's release profile.
[profile.release]
panic = "abort"

[workspace]
TOML
# Start from the workspace's versions of the shared dependencies.
[ -f "$build/Cargo.lock" ] || cp "$repo/Cargo.lock" "$build/Cargo.lock"

cargo build --release --manifest-path "$build/Cargo.toml" --target-dir "$build/target"
"$build/target/release/kcom-rs-runner"
cargo build --release -p kcom-bench --bin instructions --manifest-path "$repo/Cargo.toml"
target_dir=$(cargo metadata --format-version 1 --no-deps --manifest-path "$repo/Cargo.toml" |
  sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
if [ $# -eq 0 ]; then
  set -- create_release call addref_release query_release
fi
KCOM_BENCH_EXTERNAL="$build/target/release/kcom-rs-runner" \
  "$target_dir/release/instructions" "$@"
