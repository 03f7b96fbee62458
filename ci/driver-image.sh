#!/usr/bin/env bash
# Builds the driver image kcom_sample.sys for x86_64-pc-windows-msvc on a Linux
# host, against a substitute WDK, and lints it as a driver reviewer would.
#
#   bash ci/driver-image.sh              debug image
#   bash ci/driver-image.sh --release    release image
#   bash ci/driver-image.sh --clippy     clippy -D warnings on the driver crate
#                                        for the Windows target (no image)
#
# Progress goes to stderr. On stdout: the lint report, then, as the last line,
# the absolute path of the image (target/driver-image/<profile>/kcom_sample.sys,
# with kcom_sample.pdb beside it when the linker wrote one).
#
# What the image proves: the KMDF glue type-checks against wdk-sys bindings
# generated from these headers and links into a native kernel-mode image.
# What it does not: fidelity to the real WDK's headers and libraries. The WDF
# loader libraries are stand-ins; never install this image on Windows.
#
# The substitute WDK (assembled here, cached between runs):
#   - Debian's mingw-w64 DDK headers and kernel import libraries, with the
#     declarations mingw-w64 lacks (ci/wdk-subst/wdkcompat.h, mingw-wdm.patch,
#     ntoskrnl-extra.def);
#   - the KMDF 1.33 public headers: $KMDF_HEADERS if set, else
#     ../shared/third_party/kmdf-headers-1.33/include if present, else a
#     shallow clone of microsoft/Windows-Driver-Frameworks (in the cache);
#   - STRICT defined for bindgen and the C compiler, as the WDK does;
#   - stand-ins for WdfLdr.lib (import library of WdfLdr.sys),
#     WdfDriverEntry.lib (ci/wdk-subst/wdfdriverentry.c: FxDriverEntry binds
#     with a WDF_BIND_INFO2, then calls DriverEntry) and the empty
#     BufferOverflowFastFailK.lib;
#   - wdk-build 0.6.0 patched to build on a non-Windows host
#     (ci/wdk-subst/wdk-build-0.6.0.patch), used through [patch.crates-io].
#
# Environment:
#   KMDF_HEADERS        folder holding the KMDF 1.33 wdf.h and its headers
#   KCOM_SAMPLE_CACHE   cache folder (default ${XDG_CACHE_HOME:-~/.cache}/kcom-sample)
#
# The build runs in a copy of the workspace (target/driver-image/ws) so that
# the [patch] never touches the project's Cargo.lock. One run at a time per
# project folder (a lock file serialises them); several project folders may
# build at once and share the cache, whose entries are created atomically.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SUPPORT=$ROOT/ci/wdk-subst
TARGET=x86_64-pc-windows-msvc
KMDF_VERSION=1.33
SDK_VERSION=10.0.22621.0
WDK_BUILD_VERSION=0.6.0
PACKAGES=(clang libclang-dev llvm lld mingw-w64-x86-64-dev patch)

log() { printf 'driver-image: %s\n' "$*" >&2; }
die() { printf 'driver-image: error: %s\n' "$*" >&2; exit 1; }

PROFILE=debug
MODE=build
for arg in "$@"; do
    case $arg in
        --release) PROFILE=release ;;
        --clippy) MODE=clippy ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument '$arg' (valid: --release, --clippy, --help)" ;;
    esac
done

CACHE=${KCOM_SAMPLE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kcom-sample}
OUT=$ROOT/target/driver-image
mkdir -p "$CACHE" "$OUT"

# One run per project folder at a time: the workspace copy is shared.
exec 9>"$OUT/.lock"
flock 9

# ---------------------------------------------------------------------------
# Tools
# ---------------------------------------------------------------------------

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || die "missing packages: ${missing[*]} (apt-get install them, or run as root)"
    log "installing ${missing[*]}"
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2
fi
rustup target list --installed | grep -qx "$TARGET" || rustup target add "$TARGET" >&2
if [ "$MODE" = clippy ]; then
    rustup component list --installed | grep -q '^clippy' || rustup component add clippy >&2
fi

# ---------------------------------------------------------------------------
# Inputs of the substitute WDK
# ---------------------------------------------------------------------------

# The KMDF 1.33 public headers.
kmdf_headers() {
    local dir
    if [ -n "${KMDF_HEADERS:-}" ]; then
        dir=$KMDF_HEADERS
    elif [ -f "$ROOT/../shared/third_party/kmdf-headers-1.33/include/wdf.h" ]; then
        dir=$ROOT/../shared/third_party/kmdf-headers-1.33/include
    else
        local clone=$CACHE/Windows-Driver-Frameworks
        if [ ! -f "$clone/src/publicinc/wdf/kmdf/1.33/wdf.h" ]; then
            log "cloning microsoft/Windows-Driver-Frameworks (shallow) for the KMDF headers"
            rm -rf "$clone.tmp.$$"
            git clone -q --depth 1 https://github.com/microsoft/Windows-Driver-Frameworks \
                "$clone.tmp.$$" >&2
            mv -T "$clone.tmp.$$" "$clone" 2>/dev/null || rm -rf "$clone.tmp.$$"
        fi
        dir=$clone/src/publicinc/wdf/kmdf/1.33
    fi
    [ -f "$dir/wdf.h" ] || die "no wdf.h in $dir (KMDF_HEADERS must name the KMDF 1.33 include folder)"
    grep -q 'WdfFunctionTableNumEntries = 458,' "$dir/wdffuncenum.h" 2>/dev/null ||
        die "$dir is not the KMDF 1.33 include folder (wdffuncenum.h must list 458 functions)"
    (cd "$dir" && pwd)
}
HEADERS=$(kmdf_headers)

# wdk-build's .crate, checked against the project's Cargo.lock.
wdk_build_crate() {
    local sum crate
    sum=$(awk -v v="$WDK_BUILD_VERSION" '
        /^name = "wdk-build"$/ { n = 1; next }
        n && /^version = / { ok = ($3 == "\"" v "\""); next }
        n && ok && /^checksum = / { gsub(/"/, "", $3); print $3; exit }
        /^\[\[package\]\]/ { n = 0; ok = 0 }' "$ROOT/Cargo.lock")
    [ -n "$sum" ] || die "Cargo.lock has no wdk-build $WDK_BUILD_VERSION (the patch is for that version)"
    local cargo_home=${CARGO_HOME:-$HOME/.cargo}
    crate=$(ls "$cargo_home"/registry/cache/*/wdk-build-"$WDK_BUILD_VERSION".crate 2>/dev/null | head -1 || true)
    if [ -z "$crate" ]; then
        log "fetching the workspace's crates"
        cargo fetch -q --manifest-path "$ROOT/Cargo.toml" >&2
        crate=$(ls "$cargo_home"/registry/cache/*/wdk-build-"$WDK_BUILD_VERSION".crate | head -1)
    fi
    [ "$(sha256sum "$crate" | cut -d' ' -f1)" = "$sum" ] ||
        die "$crate does not match the checksum in Cargo.lock"
    printf '%s\n' "$crate"
}
WDK_BUILD_CRATE=$(wdk_build_crate)

# The cache key: everything the tree is made from.
cache_key() {
    {
        sha256sum "$ROOT/ci/driver-image.sh" "$SUPPORT"/* | cut -d' ' -f1
        (cd "$HEADERS" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
        sha256sum "$WDK_BUILD_CRATE" | cut -d' ' -f1
        dpkg-query -W -f='${Package} ${Version}\n' "${PACKAGES[@]}"
    } | sha256sum | cut -c1-16
}
SUB=$CACHE/wdk-subst-$(cache_key)

# ---------------------------------------------------------------------------
# The substitute WDK
# ---------------------------------------------------------------------------

# Windows resolves #include names without regard to case; the KMDF and mingw
# headers rely on it (e.g. <WdfQueryInterface.h>). Links each mis-cased name
# to the file it means, in the folder holding that file.
link_miscased_includes() {
    local -A by_lower=()
    local dir f name
    for dir in "$@"; do
        for f in "$dir"/*; do
            name=${f##*/}
            by_lower[${name,,}]=$f
        done
    done
    local headers=()
    for dir in "$@"; do headers+=("$dir"/*.h); done
    grep -ohE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"][^/\\>"]+[>"]' "${headers[@]}" |
        sed -E 's/.*[<"]([^>"]+)[>"]/\1/' | sort -u |
        while read -r name; do
            local found=
            for dir in "$@"; do [ -e "$dir/$name" ] && found=1 && break; done
            [ -n "$found" ] && continue
            f=${by_lower[${name,,}]:-}
            [ -n "$f" ] && ln -s "${f##*/}" "${f%/*}/$name"
        done
    return 0
}

# import_lib ARCHIVE MODULE [EXTRA.def]: a module-definition file for MODULE
# with the exports of the mingw-w64 import library ARCHIVE (a name with an
# __imp_ pointer but no call thunk is data) and those listed in EXTRA.def.
import_lib() {
    printf 'LIBRARY %s\nEXPORTS\n' "$2"
    llvm-nm --defined-only "$1" 2>/dev/null | awk '
        $3 ~ /^__imp_/ { imp[substr($3, 7)] = 1 }
        $2 == "T" { code[$3] = 1 }
        END { for (n in imp) print n (n in code ? "" : " DATA") }' | sort
    [ -z "${3:-}" ] || sed -n '/^EXPORTS/,$p' "$3" | sed '1d; /^;/d; /^$/d'
}

# build_subst DIR FINAL: assembles the tree in DIR; env.sh names FINAL, the
# folder DIR is renamed to once complete.
build_subst() {
    local dest=$1 final=$2 mingw=/usr/share/mingw-w64/include mingwlib=/usr/x86_64-w64-mingw32/lib
    local wdk=$dest/wdk inc=$dest/wdk/Include/$SDK_VERSION
    local kmlib=$dest/wdk/Lib/$SDK_VERSION/km/x64 wdflib=$dest/wdk/Lib/wdf/kmdf/x64/$KMDF_VERSION
    local kmdfinc=$dest/wdk/Include/wdf/kmdf/$KMDF_VERSION obj=$dest/obj
    mkdir -p "$dest/bin" "$obj" "$inc/km/crt" "$inc/km/ufx/1.1" "$inc/shared" "$kmdfinc" "$kmlib" "$wdflib"

    # Headers: mingw-w64's DDK is the km folder, the rest of its headers the
    # shared one; wdk-build only needs km/crt and km/ufx/1.1 to exist.
    cp "$mingw"/ddk/*.h "$inc/km/"
    cp -r "$mingw"/. "$inc/shared/"
    rm -r "$inc/shared/ddk"
    patch -s -d "$inc/km" -p1 <"$SUPPORT/mingw-wdm.patch"
    cp "$SUPPORT/wdkcompat.h" "$inc/km/"
    printf '\n#include "wdkcompat.h"\n' >>"$inc/km/ntddk.h"
    cp "$HEADERS"/*.h "$kmdfinc/"
    link_miscased_includes "$inc/km" "$inc/shared" "$kmdfinc"

    # The C compiler wdk-sys's cc build and the stub use: clang as clang-cl.
    ln -s "$(command -v clang)" "$dest/bin/clang-cl"

    # Import libraries, made from the export lists of mingw-w64's (ntoskrnl's
    # completed with what it lacks), so that each module gets one import
    # descriptor in the image, as with the WDK's libraries.
    import_lib "$mingwlib/libntoskrnl.a" ntoskrnl.exe "$SUPPORT/ntoskrnl-extra.def" >"$obj/ntoskrnl.def"
    import_lib "$mingwlib/libhal.a" HAL.dll >"$obj/hal.def"
    import_lib "$mingwlib/libwmilib.a" WMILIB.SYS >"$obj/wmilib.def"
    for lib in ntoskrnl hal wmilib; do
        llvm-dlltool -m i386:x86-64 -d "$obj/$lib.def" -l "$kmlib/$lib.lib"
    done
    llvm-dlltool -m i386:x86-64 -d "$SUPPORT/wdfldr.def" -l "$wdflib/WdfLdr.lib"

    # The WDK's BufferOverflowFastFailK.lib provides the /GS stack cookie and
    # its check. The only C in the image, wdk-sys's wdf.c, is compiled /GS-
    # here (CFLAGS in env.sh) and Rust emits no cookie checks, so the library
    # wdk-sys links against is an archive with one unused object.
    printf '/* nothing here is built with /GS */\nint kcom_sample_no_gs_code;\n' >"$obj/bofk.c"
    # Warnings are errors, less those the WDK headers raise under clang (the
    # same wdk-build silences for bindgen).
    local cflags=(--target=x86_64-pc-windows-msvc /nologo /c /GS- /Gy /Zl /O2 /W3 /WX
        -Wno-pragma-pack -Wno-nonportable-include-path -Wno-microsoft -Wno-switch
        -Wno-incompatible-library-redeclaration
        -D_AMD64_ -DAMD64 -D_WIN64 -D_KERNEL_MODE -DSTRICT=1 -D__GNUC__=4 -D__GNUC_MINOR__=9
        -DKMDF_VERSION_MAJOR=1 -DKMDF_VERSION_MINOR=33
        -I "$inc/km/crt" -I "$inc/km" -I "$inc/shared" -I "$kmdfinc")
    "$dest/bin/clang-cl" "${cflags[@]}" /Fo"$obj/bofk.obj" -- "$obj/bofk.c" >&2
    llvm-lib /out:"$kmlib/BufferOverflowFastFailK.lib" "$obj/bofk.obj"
    "$dest/bin/clang-cl" "${cflags[@]}" /Fo"$obj/wdfdriverentry.obj" -- "$SUPPORT/wdfdriverentry.c" >&2
    llvm-lib /out:"$wdflib/WdfDriverEntry.lib" "$obj/wdfdriverentry.obj"

    # wdk-build, patched to build on this host.
    mkdir "$dest/wdk-build"
    tar -xzf "$WDK_BUILD_CRATE" -C "$dest/wdk-build" --strip-components=1
    find "$dest/wdk-build" -name '*.rs' -exec sed -i 's/\r$//' {} +
    patch -s -d "$dest/wdk-build" -p1 <"$SUPPORT/wdk-build-$WDK_BUILD_VERSION.patch"

    local clang_include
    clang_include=$(clang -print-resource-dir)/include
    local defines="-DSTRICT=1 -D__GNUC__=4 -D__GNUC_MINOR__=9"
    cat >"$dest/env.sh" <<EOF
# Environment of a build against this substitute WDK (written by ci/driver-image.sh).
export PATH="$final/bin:\$PATH"
export WDKContentRoot="$final/wdk"
export CC_x86_64_pc_windows_msvc=clang-cl
export AR_x86_64_pc_windows_msvc=llvm-lib
# STRICT: each handle its own type (WDFDEVICE = *mut WDFDEVICE__), as with the
# WDK. __GNUC__: mingw-w64's headers expect a GNU compiler.
export BINDGEN_EXTRA_CLANG_ARGS="-isystem $clang_include $defines"
# /GS-: see BufferOverflowFastFailK.lib above.
export CFLAGS_x86_64_pc_windows_msvc="$defines /GS-"
export CARGO_TARGET_X86_64_PC_WINDOWS_MSVC_LINKER=rust-lld
EOF
}

# Trees of older inputs that no run used for two weeks go.
find "$CACHE" -maxdepth 1 \( -name 'wdk-subst-*' -mtime +14 -o -name '.wdk-subst.*' -mtime +1 \) \
    ! -path "$SUB" -exec rm -rf {} + 2>/dev/null || true
if [ ! -f "$SUB/env.sh" ]; then
    log "assembling the substitute WDK in $SUB"
    tmp=$(mktemp -d "$CACHE/.wdk-subst.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    build_subst "$tmp" "$SUB"
    # Another project folder may have finished the same tree meanwhile: the
    # first rename wins, the other copy is dropped.
    mv -T "$tmp" "$SUB" 2>/dev/null || rm -rf "$tmp"
    trap - EXIT
fi
touch "$SUB"

# ---------------------------------------------------------------------------
# The build, in a copy of the workspace
# ---------------------------------------------------------------------------

WS=$OUT/ws
mkdir -p "$WS"
# Refresh the copy; tar keeps modification times, so cargo rebuilds only what
# changed. The copy's own target/ stays (wdk-build finds the workspace from
# OUT_DIR, so the target folder must be inside it).
find "$WS" -mindepth 1 -maxdepth 1 ! -name target -exec rm -rf {} +
if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    (cd "$ROOT" && git ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
        tar --null -T - -cf -) | tar -xf - -C "$WS"
else
    tar -C "$ROOT" --exclude=./target --exclude=./.git -cf - . | tar -xf - -C "$WS"
fi
mkdir -p "$WS/.cargo"
cat >>"$WS/.cargo/config.toml" <<EOF

# Added by ci/driver-image.sh: wdk-build patched to build on a non-Windows host.
[patch.crates-io]
wdk-build = { path = "$SUB/wdk-build" }
EOF

# shellcheck disable=SC1091
. "$SUB/env.sh"
unset CARGO_TARGET_DIR CARGO_BUILD_TARGET_DIR
cargo_args=(--target "$TARGET" -p kcom-sample)
[ "$PROFILE" = release ] && cargo_args+=(--release)

cd "$WS"
if [ "$MODE" = clippy ]; then
    log "cargo clippy ${cargo_args[*]} -- -D warnings"
    cargo clippy "${cargo_args[@]}" -- -D warnings >&2
    exit 0
fi
log "cargo build ${cargo_args[*]}"
cargo build "${cargo_args[@]}" >&2

built=$WS/target/$TARGET/$PROFILE
[ -f "$built/kcom_sample.dll" ] || die "cargo produced no $built/kcom_sample.dll"
mkdir -p "$OUT/$PROFILE"
image=$OUT/$PROFILE/kcom_sample.sys
cp "$built/kcom_sample.dll" "$image"
rm -f "$OUT/$PROFILE/kcom_sample.pdb" "$OUT/$PROFILE/kcom_sample.map"
if [ -f "$built/kcom_sample.pdb" ]; then cp "$built/kcom_sample.pdb" "$OUT/$PROFILE/"; fi
# The linker map (wdk-build's /MAP) names the entry point for the lint.
cp "$built/deps/kcom_sample.map" "$OUT/$PROFILE/"

# The lint (tools/image-lint) is a host program of the project itself.
cd "$ROOT"
log "linting the image"
cargo run -q -p image-lint -- "$image" --map "$OUT/$PROFILE/kcom_sample.map" ||
    die "the image breaks the rules above"
echo "$image"
