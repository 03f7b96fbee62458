#!/usr/bin/env bash
# A newcomer's first two commands, as the README gives them, in a clone of
# this checkout that has nothing beside it: no ../shared, no KMDF headers,
# no environment settings of ours.
#
#   bash ci/fresh-clone.sh
#
# The clone goes into a new empty folder under ${TMPDIR:-/tmp} (removed at
# the end); then, in the clone:
#
#   cargo test --workspace                   the README's test command
#   cargo run -p kcomctl -- --loopback run all   its main command
#
# What the clone has is what is committed (`git clone` of this checkout).
# The build reuses the target folder $CARGO_TARGET_DIR, else this checkout's
# target/: crates.io dependencies already built there are not rebuilt (their
# build does not depend on where the workspace is), the workspace's own
# crates are (they do). The toolchain is whatever rust-toolchain.toml names,
# as rustup picks it for the clone.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)

log() { printf 'fresh-clone.sh: %s\n' "$*" >&2; }
die() { printf 'fresh-clone.sh: error: %s\n' "$*" >&2; exit 1; }

case ${1:-} in
    "") ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (valid: --help)" ;;
esac

target=${CARGO_TARGET_DIR:-$repo/target}
mkdir -p "$target"
target=$(cd "$target" && pwd)

folder=$(mktemp -d "${TMPDIR:-/tmp}/kcom-sample-clone.XXXXXX")
trap 'rm -rf "$folder"' EXIT
case $folder/ in
    "$(dirname "$repo")"/*) die "$folder is beside the checkout; set TMPDIR to a folder elsewhere" ;;
esac

git clone --quiet "$repo" "$folder/kcom-sample"
beside=$(ls -A "$folder")
[ "$beside" = kcom-sample ] || die "the clone's folder holds more than the clone: $beside"
log "clone of $(git -C "$folder/kcom-sample" log -1 --format='%h %s') in $folder/kcom-sample"

cd "$folder/kcom-sample"
# Nothing of this machine's set-up may help: the KMDF headers' locations,
# a built driver image, flags of an enclosing build.
unset KMDF_HEADERS KMDF_FUNCENUM_H KCOM_SAMPLE_IMAGE RUSTFLAGS CARGO_ENCODED_RUSTFLAGS
export CARGO_TARGET_DIR=$target

start=$SECONDS
cargo test --workspace
log "cargo test --workspace: $((SECONDS - start)) s"
start=$SECONDS
cargo run -p kcomctl -- --loopback run all
log "cargo run -p kcomctl -- --loopback run all: $((SECONDS - start)) s"
