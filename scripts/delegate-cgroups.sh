#!/bin/sh
# usage: sudo scripts/delegate-cgroups.sh USER [remove]
#
# Delegates a cgroup subtree to USER, so that podbox run by USER enforces resource limits
# (cpu, memory, pids) on a machine where nothing else delegates one (no systemd, or cgroup v1):
#   cgroup v1: /podbox-UID in every controller's hierarchy, owned by USER. runc given a cgroupsPath
#              creates it in every v1 hierarchy mounted and fails on any it may not write, so all of
#              them are delegated, not only cpu, cpuacct, memory and pids.
#   cgroup v2: /sys/fs/cgroup/podbox-UID with cpu, memory and pids enabled, owned by USER. A process
#              moves only between cgroups whose common ancestor its user may write, so podbox must
#              also run inside it: prefer systemd's delegation (Delegate=yes for user@.service) on v2.
# podbox finds /podbox-UID by itself; PODBOX_CGROUP_PARENT=/podbox-UID names it explicitly.
# `remove` takes it away again (once no pod of USER runs).
set -eu
user=${1:?usage: delegate-cgroups.sh USER [remove]}
uid=$(id -u "$user")
gid=$(id -g "$user")
name=podbox-$uid
root=/sys/fs/cgroup

if [ "${2:-}" = remove ]; then
  for dir in "$root/$name" "$root"/*/"$name"; do
    [ -d "$dir" ] || continue
    # leaf first: every cgroup below must go before its parent
    find "$dir" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
  exit 0
fi

if [ -e "$root/cgroup.controllers" ]; then
  # v2: the controllers must be enabled at every level down to the subtree.
  for c in cpu memory pids; do echo "+$c" >"$root/cgroup.subtree_control" 2>/dev/null || true; done
  mkdir -p "$root/$name"
  chown "$uid:$gid" "$root/$name" "$root/$name/cgroup.procs" "$root/$name/cgroup.subtree_control" \
    "$root/$name/cgroup.threads"
  echo "$root/$name"
  exit 0
fi

# v1 (or hybrid): every hierarchy mounted under /sys/fs/cgroup, named ones (name=systemd) too.
# (mountinfo: the file system type is the field after the "-" that ends the optional fields)
awk '{ for (i = 7; $i != "-"; i++); if ($(i + 1) == "cgroup" && $5 ~ "^/sys/fs/cgroup/") print $5 }' \
  /proc/self/mountinfo | sort -u |
  while read -r mount; do
    dir=$mount/$name
    mkdir -p "$dir"
    # a cpuset cgroup takes no task until it has cpus and mems: its parent's
    if [ -e "$dir/cpuset.cpus" ]; then
      [ -n "$(cat "$dir/cpuset.cpus")" ] || cat "$mount/cpuset.cpus" >"$dir/cpuset.cpus"
      [ -n "$(cat "$dir/cpuset.mems")" ] || cat "$mount/cpuset.mems" >"$dir/cpuset.mems"
    fi
    chown -R "$uid:$gid" "$dir"
    echo "$dir"
  done
