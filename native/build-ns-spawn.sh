#!/bin/sh
# Builds ns-spawn (the helper spawnInNamespaces execs): static, so its exec loads nothing; the C
# library's static archive (Debian: libc6-dev, which building the addon needs anyway), else dynamic.
set -e
out=$1
cc=${CC:-cc}
mkdir -p "$(dirname "$out")"
flags="-O2 -s -Wall -Wextra -o $out native/ns-spawn.c native/namespaces.c"
$cc -static $flags 2>/dev/null || $cc $flags
