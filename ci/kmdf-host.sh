#!/usr/bin/env bash
# Runs the compiled driver image under kmdf-host: the checks that need the
# real kcom_sample.sys rather than the fixture drivers.
#
#   bash ci/kmdf-host.sh              the debug and the release image
#   bash ci/kmdf-host.sh --debug      the debug image only
#
# For each image (built by ci/driver-image.sh, a no-op when it is up to date):
#   - kmdf-host's own command line: DriverEntry, two devices, GET_INFO on
#     each, removal and unload, with special pool and the image relocated;
#   - tools/kmdf-host/tests/real_image.rs: every strategy with nothing left,
#     low-resources sweeps over every pool allocation of DriverEntry,
#     AddDevice and each exercise (with and without ExAllocatePool2), special
#     pool, 8 threads of IOCTLs, KMDF 1.33 and 1.31, the relocated image, two
#     devices and removal, a D3 transition with requests in flight;
#   - tools/kcomctl/tests/image.rs: `kcomctl --image ... run all`, the image
#     against the loopback, --inject-fault, list and stats;
#   - (debug image) tools/kmdf-host/tests/cli.rs: the runs of the image that
#     tools/kmdf-host/README.md shows.
# Those tests are #[ignore]d in a plain `cargo test` (they need the image);
# here they run with --include-ignored and KCOM_SAMPLE_IMAGE set, and fail
# if the image is missing.
#
# Needs what ci/driver-image.sh needs (it installs the Debian packages and
# the rustup target itself).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'kmdf-host.sh: %s\n' "$*" >&2; }
die() { printf 'kmdf-host.sh: error: %s\n' "$*" >&2; exit 1; }

PROFILES=(debug release)
for arg in "$@"; do
    case $arg in
        --debug) PROFILES=(debug) ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument '$arg' (valid: --debug, --help)" ;;
    esac
done

[ "$(uname -s)/$(uname -m)" = Linux/x86_64 ] || die "kmdf-host runs driver images on x86_64 Linux only"

# GET_INFO: IOCTL_KCOM_GET_INFO with its 8-byte request (version 1, size 8).
GET_INFO=0x8C0E6000:0100000008000000:4096

for profile in "${PROFILES[@]}"; do
    flag=()
    [ "$profile" = release ] && flag=(--release)
    log "building the $profile driver image"
    image=$(bash ci/driver-image.sh "${flag[@]}" | tail -n 1)
    [ -f "$image" ] || die "ci/driver-image.sh printed no image path (got '$image')"
    log "$profile image: $image"

    log "kmdf-host: two devices, special pool, relocated"
    cargo run -q -p kmdf-host -- "$image" --devices 2 --special-pool --relocate --ioctl "$GET_INFO"

    log "real-image tests of kmdf-host ($profile image)"
    KCOM_SAMPLE_IMAGE=$image cargo test -q -p kmdf-host --test real_image -- --include-ignored

    log "kcomctl --image tests ($profile image)"
    KCOM_SAMPLE_IMAGE=$image cargo test -q -p kcomctl --test image -- --include-ignored

    if [ "$profile" = debug ]; then
        log "kmdf-host README's runs of the debug image"
        KCOM_SAMPLE_IMAGE=$image cargo test -q -p kmdf-host --test cli -- --include-ignored
    fi
done
log "ok"
