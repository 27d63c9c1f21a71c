#!/bin/sh
# `npm run demo`: builds the local busybox image if needed, then runs the demo pod in the foreground.
set -e
here=$(dirname "$0")
sh "$here/busybox-image.sh" localhost/busybox:demo
exec "$here/../bin/podbox" run "$here/demo-pod.yaml"
