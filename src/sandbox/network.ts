import { closeSync, constants, existsSync, openSync, readFileSync, readdirSync, rmSync, writeSync } from 'node:fs';
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import type { Pod } from '../api/types.js';
import { PodboxError, errnoOf } from '../errors.js';
import { nodePortsRejection } from '../lifecycle/admission.js';
import { alive, processStartTime } from '../host/proc.js';
import { pollUntil } from '../host/poll.js';
import { trace } from '../host/trace.js';
import { onPath, runProgram, startProgram } from '../host/spawn-program.js';
import { devNullFd, firstRead, withPipes } from '../host/pipes.js';
import { native } from './native.js';
import { namespaceInode } from './trace-steps.js';
import type { DnsRelayPlan } from './dns-relay.js';
import type { PodBridge } from './pod-bridge.js';

/**
 * The pod's network: the facts every other part reads (status.podIP, the downward API, /etc/hosts,
 * /etc/resolv.conf), and the user-mode stack that gives a rootless pod's network namespace an
 * interface, a default route and a way out, as podman does (libpod/networking_pasta_linux.go
 * setupPasta, networking_slirp4netns.go setupSlirp4netns).
 *
 *   pasta        (default) `pasta --config-net PID`: eth0, the gateway mapped to the host's loopback
 *   slirp4netns  `slirp4netns --configure PID tap0`: tap0, 10.0.2.2-style gateway mapped to the host
 *   none         loopback only (hermetic CI)
 *   host         hostNetwork: true — the pod has no network namespace of its own
 *
 * Each pod gets its own /24 of 10.88.0.0/16 (or the next /16 free of the host's routes), laid out as
 * slirp4netns lays out its --cidr: the pod .100, the gateway (the host) .2, the DNS forwarder .3. The
 * /24 is claimed by a file in the pods directory made with O_EXCL, so two `run -d` at once never get
 * the same one. A pod reaches its gateway and the outside through its stack, and the other pods of the
 * user by their pod IPs through the user's pod network (pod-bridge.ts).
 */
export type NetworkMode = 'pasta' | 'slirp4netns' | 'none' | 'host';

/** The modes `run --network` and the annotation accept (host is spec.hostNetwork's). */
export const NETWORK_MODES = ['pasta', 'slirp4netns', 'none'] as const;

/** The manifest's way to choose the network, as `run --network` does (the command line wins). */
export const NETWORK_ANNOTATION = 'podbox.dev/network';

export interface PublishedPort {
  hostIP: string;
  hostPort: number;
  containerPort: number;
  protocol: 'TCP' | 'UDP';
}

export interface PodNetwork {
  mode: NetworkMode;
  podIP: string;
  podIPs: string[];
  gateway?: string;
  /** an address inside the pod that forwards DNS to the host's resolvers (pasta --dns-forward, slirp4netns .3) */
  dnsForward?: string;
  /** podbox's DNS relay in the pod, for node resolvers on the node's loopback (dns-relay.ts) */
  dnsRelay?: DnsRelayPlan;
  /** the user-mode stack process (pasta, slirp4netns): it belongs to the pod */
  stackPid?: number;
  /** its start time (/proc/PID/stat), so a reused pid is never taken for it */
  stackStartTime?: number;
  /** the stack's interface in the pod */
  interface?: string;
  mtu?: number;
  published: PublishedPort[];
  /** the claim files in the pods directory (subnet, host ports), released at teardown */
  claims?: string[];
  /** its veth on the user's pod network, by which it reaches the other pods (pod-bridge.ts) */
  bridge?: PodBridge;
}

/** The MTU podman gives both stacks (containers.conf: pasta_options/slirp4netns mtu=65520). */
const MTU = 65520;
/** The loopback-only pod's address: what a pod without a stack is reachable at. */
const LOOPBACK_IP = '127.0.0.1';

/** The pod's mode: hostNetwork, else the command line's (PODBOX_NETWORK), else the annotation, else pasta. */
export function networkModeOf(pod: Pod, setting?: string): NetworkMode {
  if (pod.spec.hostNetwork) return 'host';
  const annotation = pod.metadata.annotations?.[NETWORK_ANNOTATION];
  const chosen = setting || annotation || 'pasta';
  if (!(NETWORK_MODES as readonly string[]).includes(chosen)) {
    const where = setting ? '--network' : `annotation ${NETWORK_ANNOTATION}`;
    throw new PodboxError(
      'InvalidArgument',
      `pod "${pod.metadata.name}": ${where}: unknown network "${chosen}"`,
      `use one of ${NETWORK_MODES.join(', ')}`,
    );
  }
  return chosen as NetworkMode;
}

/**
 * Every container port with a hostPort, as kubelet's CNI portmap publishes them (hostIP empty: all of
 * the host's addresses). hostNetwork: the API server defaults hostPort to containerPort (defaults.go
 * SetDefaults_Pod), and the app binds the host's port itself: nothing is forwarded then.
 */
export function publishedPorts(pod: Pod): PublishedPort[] {
  const out: PublishedPort[] = [];
  for (const c of [...(pod.spec.initContainers ?? []), ...pod.spec.containers]) {
    for (const p of c.ports ?? []) {
      if (!p.hostPort) continue;
      out.push({
        hostIP: p.hostIP || '0.0.0.0',
        hostPort: p.hostPort,
        containerPort: p.containerPort,
        protocol: p.protocol === 'UDP' ? 'UDP' : 'TCP',
      });
    }
  }
  return out;
}

/** The tun device a user-mode stack opens; PODBOX_TUN_DEVICE points podbox's check elsewhere (tests). */
export function tunDevice(env: NodeJS.ProcessEnv = process.env): string {
  return env.PODBOX_TUN_DEVICE || '/dev/net/tun';
}

/**
 * Whether this user can open the tun device, which both pasta and slirp4netns need to make the pod's
 * interface: undefined if so, else why not. Debian's udev rules leave it 0600 root; most
 * distributions ship it 0666 (opening it grants nothing until a namespace's CAP_NET_ADMIN uses it).
 */
export function tunProblem(path = tunDevice()): string | undefined {
  try {
    closeSync(openSync(path, constants.O_RDWR));
    return undefined;
  } catch (e) {
    const code = errnoOf(e) ?? (e as Error).message;
    if (code === 'EACCES' || code === 'EPERM') return `${path} is not usable by this user (${code})`;
    if (code === 'ENOENT') return `${path} does not exist (${code})`;
    return `${path} cannot be opened (${code})`;
  }
}

export const TUN_HINT =
  'make it usable as distributions ship it: `sudo chmod 0666 /dev/net/tun`, or run the pod with --network=none';

/** The lowest port an unprivileged process may bind (net.ipv4.ip_unprivileged_port_start). */
export function unprivilegedPortStart(): number {
  if (process.getuid?.() === 0) return 0;
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8').trim());
  } catch {
    return 1024;
  }
}

export interface NetworkRequest {
  pod: Pod;
  mode: NetworkMode;
  /** the pods directory, where subnets and host ports are claimed */
  podsDir: string;
  /** where a stack keeps its sockets and log */
  podDir: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * Everything that can be decided before the sandbox exists: the mode works on this machine, the
 * host ports are allowed and free (claimed), the pod's subnet (claimed). Claims are released by
 * releaseNetwork, also when this throws halfway.
 */
export function planNetwork(r: NetworkRequest): PodNetwork {
  const pod = r.pod;
  const name = pod.metadata.name;
  if (r.mode === 'host') {
    const ip = hostAddress();
    return { mode: 'host', podIP: ip, podIPs: [ip], published: [] };
  }
  if (r.mode === 'none') {
    for (const p of publishedPorts(pod)) {
      throw new PodboxError(
        'HostPortUnavailable',
        `pod "${name}": hostPort ${p.hostPort} cannot be published with --network=none`,
        'run it with --network=pasta or --network=slirp4netns, or use `podbox port-forward`',
      );
    }
    return { mode: 'none', podIP: LOOPBACK_IP, podIPs: [LOOPBACK_IP], published: [] };
  }
  const tun = tunProblem(tunDevice(r.env));
  if (tun) {
    throw new PodboxError('HostNotReady', `pod "${name}": --network=${r.mode} needs a tun device: ${tun}`, TUN_HINT);
  }
  const net: PodNetwork = { mode: r.mode, podIP: '', podIPs: [], published: publishedPorts(pod), claims: [] };
  try {
    const low = unprivilegedPortStart();
    for (const p of net.published) {
      if (p.hostPort < low) {
        throw new PodboxError(
          'HostPortUnavailable',
          `pod "${name}": hostPort ${p.hostPort} is below ${low}, the lowest port a user may bind`,
          `use a hostPort of ${low} or more (or lower net.ipv4.ip_unprivileged_port_start)`,
        );
      }
      // One claim per protocol and port, whatever the hostIP: stricter than the scheduler's
      // NodePorts check (which lets two hostIPs share a port), but one O_EXCL file decides it.
      // Taken: the pod is rejected as the kubelet rejects it at admission (lifecycle/admission.ts).
      const file = `.port-${p.protocol.toLowerCase()}-${p.hostPort}`;
      net.claims!.push(
        claim(r.podsDir, file, pod, () => {
          throw nodePortsRejection(
            `host port ${p.hostPort}/${p.protocol} is published by pod "${ownerOf(r.podsDir, file)}"`,
            'choose another hostPort, or delete that pod first',
          );
        }),
      );
    }
    const base = subnetBase();
    for (let n = 1; n <= 254 && !net.podIP; n++) {
      const file = `.net-${base}.${n}`;
      try {
        net.claims!.push(claim(r.podsDir, file, pod));
      } catch {
        continue;
      }
      net.podIP = `${base}.${n}.100`;
      net.gateway = `${base}.${n}.2`;
      net.dnsForward = `${base}.${n}.3`;
    }
    if (!net.podIP) {
      throw new PodboxError(
        'NetworkFailed',
        `pod "${name}": every pod subnet of ${base}.0.0/16 is in use`,
        'delete pods that are finished (`podbox get`), or run this one with --network=none',
      );
    }
  } catch (e) {
    releaseNetwork(r.podsDir, net);
    throw e;
  }
  net.podIPs = [net.podIP];
  net.interface = r.mode === 'pasta' ? 'eth0' : 'tap0';
  net.mtu = MTU;
  return net;
}

/**
 * Claims name in the pods directory for pod: O_EXCL, so one claimant wins. A claim whose pod is gone
 * (deleted, or its directory removed by hand) is stale and taken over. `taken` is called (and should
 * throw) when a live pod holds it; without it, a taken name throws a plain Error.
 */
function claim(podsDir: string, name: string, pod: Pod, taken?: () => never): string {
  const file = join(podsDir, name);
  const me = `${pod.metadata.name}\n${pod.metadata.uid ?? ''}\n`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
      writeSync(fd, me);
      closeSync(fd);
      return name;
    } catch (e) {
      if (errnoOf(e) !== 'EEXIST') throw e;
    }
    if (claimIsLive(podsDir, file)) break;
    rmSync(file, { force: true });
  }
  if (taken) taken();
  throw new Error(`${name} is taken`);
}

function ownerOf(podsDir: string, name: string): string {
  try {
    return readFileSync(join(podsDir, name), 'utf8').split('\n')[0];
  } catch {
    return '?';
  }
}

function claimIsLive(podsDir: string, file: string): boolean {
  let owner: string[];
  try {
    owner = readFileSync(file, 'utf8').split('\n');
  } catch {
    return true; // being written: its claimant is alive
  }
  if (!owner[0]) return true;
  try {
    const record = JSON.parse(readFileSync(join(podsDir, owner[0], 'pod.json'), 'utf8'));
    if ((record.pod?.metadata?.uid ?? '') !== owner[1]) return false;
  } catch {
    return false;
  }
  try {
    const state = JSON.parse(readFileSync(join(podsDir, owner[0], 'status.json'), 'utf8'));
    return !state.runtime?.finished;
  } catch {
    return true; // no state yet: being created
  }
}

/** Releases the pod's claims (subnet, host ports). */
export function releaseNetwork(podsDir: string, net: PodNetwork | undefined): void {
  for (const c of net?.claims ?? []) rmSync(join(podsDir, c), { force: true });
  if (net) net.claims = [];
}

/** The first of 10.88 … 10.99 whose /16 no route of the host's overlaps (/proc/net/route). */
function subnetBase(): string {
  let routes: { dest: number; mask: number }[] = [];
  try {
    routes = readFileSync('/proc/net/route', 'utf8')
      .split('\n')
      .slice(1)
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => f.length > 7 && f[1] !== '00000000')
      .map((f) => ({ dest: swap32(parseInt(f[1], 16)), mask: swap32(parseInt(f[7], 16)) }));
  } catch {
    /* no procfs route table: take the first */
  }
  for (let second = 88; second < 100; second++) {
    const net = ((10 << 24) | (second << 16)) >>> 0;
    const overlaps = routes.some((r) => {
      const mask = (Math.min(r.mask, 0xffff0000) & 0xffffffff) >>> 0;
      return (r.dest & mask) >>> 0 === (net & mask) >>> 0;
    });
    if (!overlaps) return `10.${second}`;
  }
  return '10.88';
}

function swap32(x: number): number {
  return (((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24)) >>> 0;
}

/** hostNetwork's pod IP: the host's first non-loopback IPv4 address (the kubelet's node IP), else loopback. */
function hostAddress(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return LOOPBACK_IP;
}

/**
 * Attaches the planned stack to the network namespace pause holds (its user namespace too, whose
 * CAP_NET_ADMIN configures it), and publishes the host ports. The stack outlives this process, as
 * pause does; stopStack ends it. Records stackPid and stackStartTime in net.
 */
export async function startStack(net: PodNetwork, pausePid: number, podDir: string, what: string): Promise<void> {
  if (net.mode === 'pasta') await startPasta(net, pausePid, podDir, what);
  else if (net.mode === 'slirp4netns') await startSlirp(net, pausePid, podDir, what);
  if (net.stackPid) net.stackStartTime = processStartTime(net.stackPid) ?? 0;
  traceStackStarted(net, pausePid);
}

/** The pod's stack is up: which process gives its network namespace a way out, and with what address. */
function traceStackStarted(net: PodNetwork, pausePid: number): void {
  const t = trace();
  if (!t) return;
  const inode = namespaceInode(pausePid, 'net');
  if (!net.stackPid) {
    const why = net.mode === 'host' ? "pause kept the host's network namespace (hostNetwork)" : 'loopback only';
    t.step('network', `no network stack (${net.mode}): ${why}; pod IP ${net.podIP}`, { ns: 'net', inode });
    return;
  }
  t.step(
    'network',
    `${net.mode} started (pid ${net.stackPid}): tap device ${net.interface} in net namespace ${inode} (pause's), ` +
      `address ${net.podIP}/24, gateway ${net.gateway}, DNS at ${net.dnsForward}; it relays the pod's traffic ` +
      'through ordinary sockets of yours',
    { pid: net.stackPid, ns: 'net', inode, detail: { mode: net.mode, interface: net.interface, podIP: net.podIP } },
  );
}

/**
 * When the pod's containers may start: once the stack has configured the pod's interface, which
 * pasta does (netlink: link up, MTU, address, then the default route) before the larger part of
 * its start-up, setting up its buffers and socket pools (measured with perf: most of its ~100 ms
 * of CPU is memset page-faulting its buffers, after the route is in place). A packet the container
 * sends meanwhile waits in the tap device's queue until pasta reads it. Resolves when the pod's
 * namespace has its default route through the stack's interface (/proc/PID/net/route, polled every
 * 2 ms), with undefined, or as `started` settles, with its value, whichever comes first (a stack
 * that fails after the route is still said by `started`). For pasta without published ports only: a published port is bound by pasta in that
 * later part, and a container must find its hostPort published when it starts, as after CNI's portmap.
 */
export async function stackConfigured<T>(
  net: PodNetwork,
  pausePid: number,
  started: Promise<T>,
): Promise<T | undefined> {
  if (net.mode !== 'pasta' || net.published.length) return started;
  let over = false;
  const done = started.finally(() => (over = true));
  const routed = pollUntil(() => over || defaultRouteVia(pausePid, net.interface!), 10_000, 2);
  return Promise.race([done, routed.then(() => (over ? done : traceConfigured(net, pausePid)))]);
}

/** The pod's interface is configured: its containers may start, while the stack finishes its own start-up. */
function traceConfigured(net: PodNetwork, pausePid: number): undefined {
  trace()?.step(
    'network',
    `${net.mode} configured ${net.interface} in net namespace ${namespaceInode(pausePid, 'net')}: ` +
      `default route via ${net.gateway}; the pod's containers may start`,
    { pid: pausePid, ns: 'net', detail: { interface: net.interface, gateway: net.gateway } },
  );
  return undefined;
}

/** Whether the network namespace of pid has a default route through iface (/proc/PID/net/route). */
function defaultRouteVia(pid: number, iface: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/net/route`, 'utf8')
      .split('\n')
      .some((l) => {
        const f = l.split('\t');
        return f[0] === iface && f[1] === '00000000';
      });
  } catch {
    return false;
  }
}

/** pasta(1) of 2023-03: IPv4, the pod's own address and gateway; -t/-u ADDR/PORT:PORT per published port. */
async function startPasta(net: PodNetwork, pausePid: number, podDir: string, what: string): Promise<void> {
  const pidFile = join(podDir, 'pasta.pid');
  const args = ['--config-net', '--quiet', '--ipv4-only', '-I', net.interface!, '-m', String(net.mtu)];
  args.push('-a', net.podIP, '-n', '24', '-g', net.gateway!, '--dns-forward', net.dnsForward!);
  const forward = (proto: 'TCP' | 'UDP') => net.published.filter((p) => p.protocol === proto);
  for (const proto of ['TCP', 'UDP'] as const) {
    const flag = proto === 'TCP' ? '-t' : '-u';
    const list = forward(proto);
    if (!list.length) args.push(flag, 'none');
    for (const p of list) {
      const addr = p.hostIP === '0.0.0.0' ? '' : `${p.hostIP}/`;
      args.push(flag, `${addr}${p.hostPort}:${p.containerPort}`);
    }
  }
  // As root, pasta drops to nobody unless told otherwise, and nobody may not open the pod's namespaces.
  if (process.getuid?.() === 0) args.push('--runas', '0:0');
  args.push('-T', 'none', '-U', 'none', '--pid', pidFile, String(pausePid));
  const fail = (why: string, missing = false) =>
    new PodboxError(
      'NetworkFailed',
      `${what}: pasta ${missing ? 'is not installed' : `failed: ${why}`}`,
      missing ? 'install it (Debian: apt-get install passt), or run with --network=none' : TUN_HINT,
    );
  const binary = pastaBinary();
  if (!binary) throw fail('', true);
  // pasta exits once its daemon, forked, has configured the pod's interface and written the pid file;
  // its stderr ends when the daemon has let go of it (it takes /dev/null).
  let end;
  try {
    end = await runProgram(['pasta', ...args], { path: binary, timeoutMs: 10_000 });
  } catch (e) {
    throw fail((e as Error).message, errnoOf(e) === 'ENOENT');
  }
  if (end.code !== 0) throw fail(lastLine(end.stderr) || `exit ${end.code ?? end.signal}`);
  // pasta forks to the background after writing its pid file: the pid is the daemon's.
  net.stackPid = Number(readFileSync(pidFile, 'utf8').trim());
  rmSync(pidFile, { force: true });
}

/**
 * pasta.avx2 when this CPU has AVX2 and it is installed beside pasta, else pasta: pasta itself
 * re-executes into it (passt's arch.c arch_avx2_exec), an exec and a dynamic load podbox saves on
 * every pod start. argv[0] stays "pasta", which is how the binary knows it is pasta and not passt.
 */
function pastaBinary(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const pasta = onPath('pasta', env);
  if (!pasta) return undefined;
  return cpuHasAvx2() && existsSync(`${pasta}.avx2`) ? `${pasta}.avx2` : pasta;
}

let avx2: boolean | undefined;
function cpuHasAvx2(): boolean {
  if (avx2 === undefined) {
    try {
      avx2 = /^flags\s*:.*\bavx2\b/m.test(readFileSync('/proc/cpuinfo', 'utf8'));
    } catch {
      avx2 = false;
    }
  }
  return avx2;
}

/**
 * slirp4netns(1) 1.2: --cidr gives the pod .100, the gateway (the host, its loopback included:
 * no --disable-host-loopback) .2 and the DNS forwarder .3; host ports through its API socket.
 */
async function startSlirp(net: PodNetwork, pausePid: number, podDir: string, what: string): Promise<void> {
  const cidr = net.podIP.replace(/\.\d+$/, '.0/24');
  const api = join(podDir, 'slirp4netns.sock');
  rmSync(api, { force: true });
  const log = openSync(join(podDir, 'slirp4netns.log'), 'w', 0o600);
  const fail = (why: string) => new PodboxError('NetworkFailed', `${what}: slirp4netns ${why}`, TUN_HINT);
  const argv = ['slirp4netns', '--configure', `--mtu=${net.mtu}`, `--cidr=${cidr}`, `--api-socket=${api}`];
  argv.push('--ready-fd=3', String(pausePid), net.interface!);
  let started;
  try {
    // Its own session, as child_process's detached gave it; it says it is ready on fd 3.
    started = withPipes(1, ([readyW]) =>
      startProgram(argv, { stdio: [devNullFd(), log, log, readyW!], newSession: true }),
    );
  } catch (e) {
    throw fail(errnoOf(e) === 'ENOENT' ? 'is not installed' : (e as Error).message);
  } finally {
    closeSync(log);
  }
  const pid = started.value;
  // Reaped whenever it exits (the pod's teardown ends it; the supervisor watches it, watchStack).
  const exited = new Promise<number | null>((resolve) => native().watchExit(pid, (code) => resolve(code)));
  const ready = await Promise.race([firstRead(started.readEnds[0]!, 10_000), exited.then(() => false)]);
  if (!ready) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
    const code = await exited;
    let text = '';
    try {
      text = lastLine(readFileSync(join(podDir, 'slirp4netns.log'), 'utf8'));
    } catch {
      /* no log */
    }
    throw fail(`failed (exit ${code ?? 'killed'}): ${text}`);
  }
  net.stackPid = pid;
  try {
    for (const p of net.published) {
      await slirpApi(api, {
        execute: 'add_hostfwd',
        arguments: {
          proto: p.protocol.toLowerCase(),
          host_addr: p.hostIP,
          host_port: p.hostPort,
          guest_addr: net.podIP,
          guest_port: p.containerPort,
        },
      }).catch((e: Error) => {
        throw fail(`could not publish host port ${p.hostPort}/${p.protocol}: ${e.message}`);
      });
    }
  } catch (e) {
    await stopStack(net);
    throw e;
  }
}

/** One request to slirp4netns's API socket (its docs: slirp4netns.md, API SOCKET). */
function slirpApi(socket: string, request: unknown): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const s = connect(socket);
    let reply = '';
    s.on('connect', () => s.end(JSON.stringify(request)));
    s.on('data', (d) => (reply += d));
    s.on('error', reject);
    s.on('close', () => {
      try {
        const r = JSON.parse(reply) as { error?: { desc?: string } };
        if (r.error) reject(new Error(r.error.desc ?? JSON.stringify(r.error)));
        else resolve(r);
      } catch {
        reject(new Error(`unexpected answer: ${reply}`));
      }
    });
  });
}

/** Whether the pod's stack is the process recorded (same pid, same start time) and alive. */
export function stackAlive(net: PodNetwork | undefined): boolean {
  if (!net?.stackPid) return false;
  return alive(net.stackPid) && processStartTime(net.stackPid) === net.stackStartTime;
}

/** The stacks sent SIGTERM by signalStack: stopStack does not send it again. */
const signalled = new WeakSet<PodNetwork>();

/**
 * Sends the pod's stack SIGTERM and returns at once: a teardown says it as it begins, so the stack
 * exits (pasta frees its buffers, tens of milliseconds of the kernel's time) while pause ends and
 * the pod's cgroups go; stopStack then only waits for it. false if there is no stack to signal.
 */
export function signalStack(net: PodNetwork | undefined): boolean {
  if (!net?.stackPid || !stackAlive(net)) return false;
  try {
    process.kill(net.stackPid, 'SIGTERM');
  } catch {
    return false;
  }
  signalled.add(net);
  trace()?.step('network', `SIGTERM to ${net.mode} (pid ${net.stackPid}): the pod's way out is closed`, {
    pid: net.stackPid,
  });
  return true;
}

/** Ends the pod's stack (SIGTERM unless signalStack sent it, then SIGKILL) and waits until it is gone. */
export async function stopStack(net: PodNetwork | undefined): Promise<void> {
  if (!net?.stackPid || !stackAlive(net)) return;
  const pid = net.stackPid;
  if (!signalled.has(net) && !signalStack(net)) return;
  // Polled every millisecond: a stack that handles SIGTERM has begun its exit (alive() is false) within one or two.
  if (!(await pollUntil(() => !alive(pid), 2000, 1))) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
    await pollUntil(() => !alive(pid), 2000, 5);
  }
}

function lastLine(text: string): string {
  return text.trim().split('\n').pop() ?? '';
}

/** "127.0.0.1:8080->80/TCP" for each published port (get -o wide, describe). */
export function publishedText(ports: PublishedPort[]): string {
  return ports.map((p) => `${p.hostIP}:${p.hostPort}->${p.containerPort}/${p.protocol}`).join(', ');
}

/** Claim files are in the pods directory: their names (for tests and `doctor`). */
export function claimFiles(podsDir: string): string[] {
  try {
    return readdirSync(podsDir).filter((f) => f.startsWith('.net-') || f.startsWith('.port-'));
  } catch {
    return [];
  }
}
