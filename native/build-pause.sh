#!/bin/sh
# Builds the pause executable: static, -Os, stripped. Uses musl-gcc (Debian's musl-tools) when it
# is installed, for a ~20 kB binary; glibc's static libc otherwise.
set -e
src=$1 out=$2
cc=${PAUSE_CC:-}
if [ -z "$cc" ]; then
  if command -v musl-gcc >/dev/null 2>&1; then cc=musl-gcc; else cc=${CC:-cc}; fi
fi
mkdir -p "$(dirname "$out")"
$cc -Os -static -s -Wall -Wextra -o "$out" "$src"
