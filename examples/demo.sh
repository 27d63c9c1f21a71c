#!/bin/sh
# `npm run demo`: builds the local busybox image if needed, then runs the demo pod in the foreground.
set -e
here=$(dirname "$0")
sh "$here/busybox-image.sh" localhost/busybox:demo
# The pod network (pasta) needs /dev/net/tun usable by this user (mode 0666, as distributions ship it),
# and iproute2's ip (the bridge pods reach each other on); where either is missing, the demo runs
# loopback-only: its containers talk over the pod's localhost anyway.
if [ -r /dev/net/tun ] && [ -w /dev/net/tun ] && command -v pasta >/dev/null &&
  { command -v ip || [ -x /usr/sbin/ip ] || [ -x /sbin/ip ]; } >/dev/null; then
  exec "$here/../bin/podbox" run "$here/demo-pod.yaml"
fi
echo "(/dev/net/tun is not usable here, or pasta or ip is missing: the demo pod runs with --network=none)"
exec "$here/../bin/podbox" run --network=none "$here/demo-pod.yaml"
