import {
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  readlinkSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { PodboxError } from '../errors.js';
import { processStartTime } from '../host/proc.js';
import { takeFileLock } from '../host/lock-file.js';
import { trace } from '../host/trace.js';
import { parseIdMap } from './trace-steps.js';
import type { IdRange, IdMapping } from './idmap.js';
import { podIdMapping } from './idmap.js';
import { native } from './native.js';
import { startInNewNamespaces } from './namespaces.js';
import type { NetworkMode } from './network.js';
import { devNullFd, readAll } from '../host/pipes.js';

/**
 * The pod network: pods of one user reach each other by pod IP, as pods on one node do. The model is
 * podman's rootless netns (libpod/networking_linux.go, and netavark's bridge driver it runs there): one
 * network namespace the user owns, with a bridge every container's veth joins. podbox has one such
 * namespace per user, NB, with the bridge `podbox0`, and puts a veth between it and each pod with a
 * user-mode stack (pasta, slirp4netns): the pod's end is `eth1`, with a route to the pods' /16.
 *
 * Moving a veth end between two network namespaces needs CAP_NET_ADMIN over both, which only a
 * process in a user namespace that owns both (or an ancestor of their owners) has. So NB is owned by
 * a user namespace U with the map pods get (idmap.ts), and each such pod's own user namespace P is
 * made *inside* U (createNamespaces' parentUserns) with an identity map over U's ids: effective ids on
 * the host are unchanged (pod uid 1000 is U's 1000 is the same subordinate id as before), and the
 * host user, owner of U, keeps every capability in P (the kernel's cap_capable walks up to U's owner),
 * so runc and every helper that joins a pod work as before.
 *
 * No daemon holds NB: each pod's pause keeps a descriptor on NB (and one on U) at fixed numbers, so
 * the kernel keeps them while a pod on the network lives and frees them with the last one. A new pod
 * finds them through a live member's /proc/PAUSE/fd; if there is none, the `ip` that makes the bridge
 * is started in a new U and NB, opened before it runs, which the new pod's pause then inherits. A lock
 * file serializes this, so two pods starting at once join the same NB.
 */

/** The descriptors pause holds for the pod network (after its readiness pipe, 3, and exits file, 4). */
export const POD_NETWORK_NET_FD = 5;
export const POD_NETWORK_USERNS_FD = 6;

/** The bridge in NB, and the pod's end of its veth. */
export const POD_BRIDGE = 'podbox0';
export const POD_BRIDGE_INTERFACE = 'eth1';

/** Where the pods on the network are listed (one "PID STARTTIME" line per pause), and its lock. */
const MEMBERS = '.pod-network';
const LOCK = '.pod-network.lock';

export interface PodBridge {
  bridge: string;
  /** the veth end in NB, attached to the bridge */
  veth: string;
  /** the pod's end, in the pod's network namespace */
  interface: string;
  /** what the pod reaches through it */
  route: string;
}

/** Which pods are on the pod network: those with a user-mode stack (not none, not hostNetwork). */
export function onPodNetwork(mode: NetworkMode): boolean {
  return mode === 'pasta' || mode === 'slirp4netns';
}

/**
 * The id map of a pod's user namespace made in U, as U sees its ids: each of U's ranges to itself.
 * Not one "0 0 65536" line: the kernel maps each line of a child's map into a single range of its
 * parent's (user_namespace.c map_write), and rootless U has two (you, then your subordinate ids).
 */
export function nestedIdMap(ranges: IdRange[]): string {
  return ranges.map((r) => `${r.inside} ${r.inside} ${r.count}\n`).join('');
}

/** The veth and route of a pod whose address is podIP: the route covers the pods' /16. */
export function podBridgePlan(podIP: string, pausePid: number): PodBridge {
  const [a, b] = podIP.split('.');
  return {
    bridge: POD_BRIDGE,
    veth: `pb${pausePid}`,
    interface: POD_BRIDGE_INTERFACE,
    route: `${a}.${b}.0.0/16`,
  };
}

/** What a pod's pause is made with to be on the pod network (sandbox.ts). */
export interface PodNetworkJoin {
  /** descriptors on U and NB, which the new pause inherits */
  userns: number;
  net: number;
  uidMap: string;
  gidMap: string;
}

/**
 * Runs `create` (which makes the pod's pause from join and returns its pid) with the user's pod
 * network found or made, under the lock; records the new pause as a member.
 */
export async function withPodNetwork(
  podsDir: string,
  what: string,
  create: (join: PodNetworkJoin) => Promise<number>,
): Promise<number> {
  const ahead = takePrepared(podsDir);
  const lock = join(podsDir, LOCK);
  let fd: number;
  try {
    fd = await takeLock(lock, what);
  } catch (e) {
    if (ahead) discard(ahead);
    throw e;
  }
  let fds: { userns: number; net: number } | undefined;
  try {
    const members = liveMembers(podsDir);
    let mapping: { uid: IdRange[]; gid: IdRange[] } | undefined;
    for (const m of members) {
      if ((fds = openFromPause(m.pid))) {
        mapping = usernsMapOf(m.pid);
        break;
      }
    }
    mapping ??= podIdMapping();
    let made: Promise<void> | undefined;
    if (fds && ahead) discard(ahead); // made for nothing: the network is there
    if (!fds) {
      const making = ahead?.making ?? makePodNetwork(podIdMapping(), what);
      made = making.made;
      made.catch(() => {}); // said below, once the pause is made or not
      fds = await making.opened;
    }
    // The pod's pause is made while the bridge is (both need only the namespaces); the lock is let go
    // once both are there, so a pod that finds this network finds its bridge.
    const [created, bridged] = await Promise.allSettled([
      create({ ...fds, uidMap: nestedIdMap(mapping.uid), gidMap: nestedIdMap(mapping.gid) }),
      made,
    ]);
    if (created.status === 'rejected') throw created.reason;
    const pid = created.value;
    if (bridged.status === 'rejected') {
      await killChild(pid);
      throw bridged.reason;
    }
    const me = { pid, startTime: processStartTime(pid) ?? 0 };
    writeFileSync(join(podsDir, MEMBERS), [...members, me].map((m) => `${m.pid} ${m.startTime}\n`).join(''), {
      mode: 0o600,
    });
    return pid;
  } finally {
    if (fds) {
      closeSync(fds.userns);
      closeSync(fds.net);
    }
    unlock(lock, fd);
  }
}

/** A pod network made ahead of its pod (preparePodNetwork), for the next withPodNetwork of this process. */
interface PreparedPodNetwork {
  podsDir: string;
  making: ReturnType<typeof makePodNetwork>;
}
let prepared: PreparedPodNetwork | undefined;

/**
 * Starts making a pod network for a pod this process is about to create, while it does the rest of
 * its work before the sandbox (a foreground `podbox run`: reading the manifest, finding its images).
 * U's id maps are written by newuidmap and newgidmap, setuid programs: about 30 ms, most of what the
 * pod network adds to a pod's start when it is alone, which this takes off the way. Nothing is
 * shared until withPodNetwork, under the lock, records a pod in it; if it finds the user's pod network
 * there, or the pod is not created, this one is let go (discardPreparedPodNetwork): its namespaces
 * go with their last descriptor, and its ip dies with this process at the latest.
 */
export function preparePodNetwork(podsDir: string, what: string): void {
  discardPreparedPodNetwork();
  const making = makePodNetwork(podIdMapping(), what);
  prepared = { podsDir, making };
  making.made.catch(() => {}); // said by withPodNetwork if it is used
  making.opened.catch(() => {});
}

/** Lets go of a pod network made ahead and not used (nothing if there is none). */
export function discardPreparedPodNetwork(): void {
  if (prepared) discard(prepared);
  prepared = undefined;
}

function takePrepared(podsDir: string): PreparedPodNetwork | undefined {
  const p = prepared;
  prepared = undefined;
  if (p && p.podsDir !== podsDir) {
    discard(p);
    return undefined;
  }
  return p;
}

function discard(p: PreparedPodNetwork): void {
  p.making.opened.then(
    (fds) => {
      closeSync(fds.userns);
      closeSync(fds.net);
    },
    () => {},
  );
}

/** Lets go of the pod network's lock (takeLock). */
function unlock(lock: string, fd: number): void {
  try {
    unlinkSync(lock);
  } catch {
    /* gone */
  }
  closeSync(fd);
}

/** Kills and reaps a child of this process (a pause made for a pod network that could not be made). */
async function killChild(pid: number): Promise<void> {
  const exited = new Promise<void>((resolve) => native().watchExit(pid, () => resolve()));
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
  await exited;
}

/** The lock is held for a pod's sandbox creation (tens of ms): wait for it, bounded. */
async function takeLock(path: string, what: string): Promise<number> {
  const end = Date.now() + 10_000;
  for (;;) {
    const fd = takeFileLock(path, 10);
    if (fd !== undefined) return fd;
    if (Date.now() > end) {
      throw new PodboxError(
        'NetworkFailed',
        `${what}: the pod network's lock ${path} stays held`,
        'another podbox is starting a pod; retry, or remove the file if no podbox runs',
      );
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The recorded members whose pause is still the same process. */
function liveMembers(podsDir: string): { pid: number; startTime: number }[] {
  let text = '';
  try {
    text = readFileSync(join(podsDir, MEMBERS), 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .map((l) => l.split(' ').map(Number))
    .filter(([pid, start]) => pid > 0 && processStartTime(pid) === start)
    .map(([pid, startTime]) => ({ pid, startTime }));
}

/**
 * U's map, in host ids, from a member's pause: its own map is an identity over U's, so read from the
 * host it is U's (the kernel shows a map relative to the reader). A pod joining an existing network
 * nests into what U has, even if /etc/subuid changed since U was made.
 */
function usernsMapOf(pid: number): { uid: IdRange[]; gid: IdRange[] } | undefined {
  try {
    const uid = parseIdMap(readFileSync(`/proc/${pid}/uid_map`, 'utf8'));
    const gid = parseIdMap(readFileSync(`/proc/${pid}/gid_map`, 'utf8'));
    return uid.length && gid.length ? { uid, gid } : undefined;
  } catch {
    return undefined;
  }
}

/** U and NB from a member's pause (its fds 6 and 5), if they are what they should be. */
function openFromPause(pid: number): { userns: number; net: number } | undefined {
  const path = (fd: number) => `/proc/${pid}/fd/${fd}`;
  try {
    if (!readlinkSync(path(POD_NETWORK_NET_FD)).startsWith('net:[')) return undefined;
    if (!readlinkSync(path(POD_NETWORK_USERNS_FD)).startsWith('user:[')) return undefined;
    const net = openSync(path(POD_NETWORK_NET_FD), 'r');
    try {
      return { net, userns: openSync(path(POD_NETWORK_USERNS_FD), 'r') };
    } catch {
      closeSync(net);
      return undefined;
    }
  } catch {
    return undefined;
  }
}

/**
 * U and NB, made by the one process that needs to be in them: `ip link add podbox0 type bridge`, started
 * in a new user namespace (the map every pod has, written as for a pod) and network namespace. Both are
 * opened before it runs (`opened`), so they outlive it: the new pod's pause inherits them. `made`: the
 * bridge is there.
 */
function makePodNetwork(
  mapping: IdMapping,
  what: string,
): {
  opened: Promise<{ userns: number; net: number }>;
  made: Promise<void>;
} {
  let open!: (fds: { userns: number; net: number }) => void;
  let fail!: (e: unknown) => void;
  const opened = new Promise<{ userns: number; net: number }>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  const start: IpStarter = (argv, stdio) =>
    startInNewNamespaces(
      {
        argv,
        env: [],
        namespaces: ['user', 'net'],
        dieWithParent: true,
        stdio,
        what: `${what}: make the pod network`,
        beforeRelease: (pid) => {
          const userns = openSync(`/proc/${pid}/ns/user`, 'r');
          try {
            open({ userns, net: openSync(`/proc/${pid}/ns/net`, 'r') });
          } catch (e) {
            closeSync(userns);
            throw e;
          }
        },
      },
      mapping,
    );
  const made = runIp(start, ['link', 'add', POD_BRIDGE, 'up', 'type', 'bridge'], `${what}: make the pod network`).then(
    () => {
      trace()?.step('network', `pod network made: bridge ${POD_BRIDGE} in a network namespace of your own`, {});
    },
  );
  made.catch(fail); // before the namespaces were opened: nothing to wait for (after, this does nothing)
  return { opened, made };
}

/**
 * Joins a pod to the pod network: the veth (made in NB, attached to the bridge, its peer moved into
 * the pod's network namespace and brought up there), then the pod's route to the other pods. Its
 * packets leave by eth1 with the pod's own address (eth0's) as source; the other pod answers ARP for
 * its eth0 address on its eth1 (arp_ignore 0, the default). podman's rootless netns does the same
 * with netavark's bridge driver (a veth per container on one bridge); here with iproute2's ip.
 */
export async function joinPodBridge(pausePid: number, podIP: string, what: string): Promise<PodBridge> {
  const plan = podBridgePlan(podIP, pausePid);
  const fd = (n: number) => `/proc/${pausePid}/fd/${n}`;
  const podNet = `/proc/${pausePid}/ns/net`;
  // One process for both steps (every process the supervisor starts is a fork of it, tens of ms on a
  // busy machine): a shell in U and NB runs the first ip, then nsenter into the pod's network
  // namespace (U owns it through P) for the second. The peer cannot be brought up as it is made (the
  // kernel's veth_open: ENOTCONN until both ends exist): it is, from inside the pod, with its route.
  const link = `link add ${plan.veth} master ${plan.bridge} up type veth peer name ${plan.interface} netns ${podNet}`;
  await runIp(
    { pid: pausePid, namespaces: ['user', 'net'], paths: [fd(POD_NETWORK_USERNS_FD), fd(POD_NETWORK_NET_FD)] },
    [],
    `${what}: join the pod network`,
    [`link set ${plan.interface} up`, `route add ${plan.route} dev ${plan.interface}`],
    (ip) => [
      '/bin/sh',
      '-c',
      `said=$(${ip} ${link} 2>&1) || { echo "ip ${link}: $said" >&2; exit 1; }\n` +
        `said=$(${nsenterBinary()} --net=${podNet} ${ip} -batch - 2>&1) || ` +
        `{ echo "ip in the pod (${plan.interface} up, route ${plan.route}): $said" >&2; exit 1; }`,
    ],
  );
  trace()?.step(
    'network',
    `veth ${plan.veth} on bridge ${plan.bridge} (the pod network), its peer ${plan.interface} in the pod; ` +
      `route ${plan.route} dev ${plan.interface}`,
    { pid: pausePid, ns: 'net' },
  );
  return plan;
}

/** util-linux's nsenter (Essential on Debian): first on PATH, else /usr/bin. */
function nsenterBinary(env: NodeJS.ProcessEnv = process.env): string {
  const dirs = [...(env.PATH ?? '').split(':').filter(Boolean), '/usr/bin', '/bin'];
  return dirs.map((d) => join(d, 'nsenter')).find((p) => existsSync(p)) ?? 'nsenter';
}

/** iproute2's ip: first on PATH (as pasta is found), else where Debian puts it (a user's PATH often lacks sbin). */
function ipBinary(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dirs = [...(env.PATH ?? '').split(':').filter(Boolean), '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
  return dirs.map((d) => join(d, 'ip')).find((p) => existsSync(p));
}

/** Starts ip (argv, stdio) some other way than in a pod's namespaces; resolves with its pid. */
type IpStarter = (argv: string[], stdio: number[]) => Promise<number>;

/** Runs `ip ARGS` in the given namespaces (or as `at` starts it); throws NetworkFailed with its last line of stderr. */
async function runIp(
  at: { pid: number; namespaces: ('user' | 'net')[]; paths?: string[] } | IpStarter,
  args: string[],
  what: string,
  batch?: string[],
  wrap?: (ip: string) => string[],
): Promise<void> {
  const ip = ipBinary();
  if (!ip) {
    throw new PodboxError(
      'NetworkFailed',
      `${what}: iproute2's ip is not installed`,
      'install it (Debian: apt-get install iproute2), or run with --network=none',
    );
  }
  const [rd, wr] = native().pipe();
  let stdin = devNullFd();
  if (batch) {
    // A few short lines: they fit in the pipe, so ip reads them all and EOF after.
    const [inRd, inWr] = native().pipe();
    writeSync(inWr, batch.map((l) => `${l}\n`).join(''));
    closeSync(inWr);
    stdin = inRd;
  }
  let pid: number;
  const argv = wrap ? wrap(ip) : [ip, ...args];
  const stdio = [stdin, devNullFd(), wr];
  try {
    pid =
      typeof at === 'function'
        ? await at(argv, stdio)
        : native().spawnInNamespaces({ ...at, argv, env: [], stdio, dieWithParent: true });
  } catch (e) {
    closeSync(rd);
    if (e instanceof PodboxError) throw e;
    throw new PodboxError('NetworkFailed', `${what}: ${(e as Error).message}`, 'run `podbox doctor`');
  } finally {
    closeSync(wr);
    if (batch) closeSync(stdin);
  }
  const [code, stderr] = await Promise.all([
    new Promise<number | null>((resolve) => native().watchExit(pid, (c) => resolve(c))),
    readAll(rd).catch(() => ''),
  ]);
  if (code !== 0) {
    const said = stderr.trim().split('\n').pop() || `exit ${code}`;
    const command = wrap ? '' : `ip ${args.join(' ')}: `;
    throw new PodboxError('NetworkFailed', `${what}: ${command}${said}`, 'run `podbox doctor`');
  }
}

/**
 * The supervisor's side: puts the pod on the pod network when its mode is on it, recording the veth in
 * net.bridge; resolves with the failure as a NetworkFailed error, or undefined (also off the network).
 *
 * A pod alone on the pod network has no other pod to reach: it gets no veth, and a pod's start-up pays
 * for the join (processes forked from the supervisor, ip) only once there is a second pod. That pod
 * then joins each member that has no veth yet, and itself, under the pod network's lock, so the first
 * pod reaches the second from the moment the second exists. A member that cannot be joined (gone
 * meanwhile) is left to the next pod; only this pod's own join fails this pod.
 */
export async function joinPodNetwork(
  net: { mode: NetworkMode; podIP: string; bridge?: PodBridge },
  pausePid: number,
  what: string,
  podsDir: string,
): Promise<PodboxError | undefined> {
  if (!onPodNetwork(net.mode)) return undefined;
  try {
    const lock = join(podsDir, LOCK);
    const fd = await takeLock(lock, what);
    try {
      const others = liveMembers(podsDir).filter((m) => m.pid !== pausePid);
      if (others.length === 0) return undefined;
      for (const m of others) {
        if (!hasPodNetworkInterface(m.pid))
          await joinPodBridge(m.pid, net.podIP, `${what}: join pod network member ${m.pid}`).catch(() => {});
      }
      net.bridge = hasPodNetworkInterface(pausePid)
        ? podBridgePlan(net.podIP, pausePid)
        : await joinPodBridge(pausePid, net.podIP, what);
    } finally {
      unlock(lock, fd);
    }
    return undefined;
  } catch (e) {
    return e instanceof PodboxError ? e : new PodboxError('NetworkFailed', `${what}: ${(e as Error).message}`);
  }
}

/** Whether the pod whose pause is pid has its pod network interface (made by its own join or a later pod's). */
function hasPodNetworkInterface(pid: number): boolean {
  try {
    return new RegExp(`^\\s*${POD_BRIDGE_INTERFACE}:`, 'm').test(readFileSync(`/proc/${pid}/net/dev`, 'utf8'));
  } catch {
    return false;
  }
}

/** Both of a pod's network steps (its stack, its place on the pod network): the first failure, if any. */
export async function bothUp(
  a: Promise<PodboxError | undefined>,
  b: Promise<PodboxError | undefined>,
): Promise<PodboxError | undefined> {
  const [x, y] = await Promise.all([a, b]);
  return x ?? y;
}
