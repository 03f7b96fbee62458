#!/usr/bin/env bash
# Prints "NAME SIZE_1_31 SIZE_1_33" for every WDFSTRUCTENUM entry: the x64
# sizeof of each KMDF public structure, computed with clang from the KMDF
# public headers of both versions over the substitute WDK's mingw-w64 DDK
# headers. Structures whose headers are not public print 0.
# usage: structure-sizes.sh <Windows-Driver-Frameworks checkout> [<substitute WDK dir>]
# (the source of src/linux/backend/model/structures.rs)
set -euo pipefail
wdf=${1:?checkout of microsoft/Windows-Driver-Frameworks}
sub=${2:-${WDK_SUBST_DIR:-/tmp/wdk-subst}}
inc=$(ls -d "$sub"/wdk/Include/10.*/ | tail -1)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for v in 1.31 1.33; do
  mkdir -p "$work/$v"
  git -C "$wdf" archive HEAD "src/publicinc/wdf/kmdf/$v" | tar -x -C "$work/$v" --strip-components=5
  # The headers include each other with Windows' case-insensitive names.
  for inc_name in $(grep -ho '#include [<"][^>"]*[>"]' "$work/$v"/*.h | sed 's/#include [<"]//;s/[>"]//' | sort -u); do
    lower=$(echo "$inc_name" | tr 'A-Z' 'a-z')
    [ -f "$work/$v/$lower" ] && [ ! -e "$work/$v/$inc_name" ] && ln -s "$lower" "$work/$v/$inc_name"
  done
done
names=$(sed -n '/typedef enum _WDFSTRUCTENUM/,/WDF_STRUCTURE_TABLE_NUM_ENTRIES/p' "$work/1.33/wdffuncenum.h" | grep -o 'INDEX_[A-Z0-9_]*' | sed 's/INDEX_//')
{
  echo '#include <ntddk.h>'
  echo '#include <wdf.h>'
  echo 'const unsigned long long sizes[] = {'
  for n in $names; do
    case $n in
      WDF_CLASS_*|WDF_TRIAGE_INFO|WDF_USB_*|*_TRIAGE_INFO|WDFCX_*) echo "  0,";;
      *) echo "  sizeof($n),";;
    esac
  done
  echo '};'
} > "$work/sizes.c"
for v in 1.31 1.33; do
  clang -target x86_64-pc-windows-msvc -fms-extensions -fms-compatibility -w -S -emit-llvm \
    -o "$work/$v.ll" -I "$work/$v" -I "$inc/km" -I "$inc/shared" -I "$inc/km/crt" \
    -D_AMD64_ -DSTRICT=1 -D__GNUC__=4 -D__GNUC_MINOR__=9 -DKMDF_VERSION_MAJOR=1 \
    -DKMDF_VERSION_MINOR="${v#1.}" "$work/sizes.c"
  grep '@sizes' "$work/$v.ll" | grep -o 'i64 [0-9]*' | awk '{print $2}' > "$work/$v.txt"
done
paste -d' ' <(echo "$names") "$work/1.31.txt" "$work/1.33.txt"
