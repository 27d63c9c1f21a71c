#!/bin/sh
# Makes the local image localhost/busybox:demo from Debian's busybox-static (no registry is
# reachable here): a root filesystem of /bin/busybox, a link for each of its applets, and a
# minimal /etc. Does nothing if the image is already there.
set -e
podbox=${PODBOX:-"$(dirname "$0")/../bin/podbox"}
name=${1:-localhost/busybox:demo}
if "$podbox" image ls -o json | grep -q "\"$name\""; then exit 0; fi
busybox=$(command -v busybox || true)
[ -n "$busybox" ] || { echo "busybox is not installed: sudo apt-get install busybox-static" >&2; exit 1; }
if ! file -L "$busybox" 2>/dev/null | grep -q static && ldd "$busybox" >/dev/null 2>&1; then
  echo "$busybox is dynamically linked: install busybox-static" >&2; exit 1
fi
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/root"
chmod 1777 "$root/tmp"
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
"$podbox" image import "$root" "$name" --change 'CMD=["sh"]' --change 'ENV=PATH=/bin' >/dev/null
echo "imported $name"
