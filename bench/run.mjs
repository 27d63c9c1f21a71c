#!/usr/bin/env node
// `npm run bench`: what podbox costs, next to the floor (bare runc) and, when installed, podman.
//  1. set up: a private PODBOX_HOME with the busybox image (examples/busybox-image.sh), a private
//     podman store with the same root filesystem imported, runc bundles for the floor;
//  2. W1 one container `echo`, W2 the demo pod (examples/demo-pod.yaml): wall time to exit;
//  3. W3 one pod of N `sleep 3600` containers, W4 P one-container pods started at once:
//     up (the start commands return), the memory left running, down (the delete commands return);
//  4. print one markdown table per family (medians over BENCH_RUNS runs), and JSON to BENCH_JSON;
//  5. always: delete every pod and container it started, kill what they left, remove its directories.
// Only the command lines of the tools are used (run -d, delete, get -o json; podman kube play,
// pod rm; runc run -d, delete), never their internal files, so the bench measures any supervisor design.
//
// Environment: BENCH_RUNS (default 3), BENCH_RUNS_LARGE (runs at N or P >= 10, default 1),
// BENCH_QUICK=1 (1 run, no warm-up, N/P = 1 and 5),
// BENCH_ONLY=W1,W3,PULL (workloads to run; PULL: image pulls, bench/pull.mjs), BENCH_SIZES=1,5,10,20 (N and P),
// BENCH_JSON=FILE (raw results).
import { spawn, execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir, release, cpus } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { processSnapshot, leftRunning, settledLeftRunning, memoryTotals } from './proc-memory.mjs';
import { privatePodman } from './podman.mjs';
import { floorBundle } from './floor.mjs';
import { pullAvailable, pullBench } from './pull.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const podbox = join(root, 'bin', 'podbox');
const quick = process.env.BENCH_QUICK === '1';
const runs = Number(process.env.BENCH_RUNS || (quick ? 1 : 3));
// A size of 10 or more starts that many containers per run: fewer runs keep the whole bench near 4 minutes.
const largeRuns = Number(process.env.BENCH_RUNS_LARGE || 1);
const runsFor = (size) => (size >= 10 ? largeRuns : runs);
const sizes = (process.env.BENCH_SIZES || (quick ? '1,5' : '1,5,10,20')).split(',').map(Number);
const only = new Set((process.env.BENCH_ONLY || 'W1,W2,W3,W4,PULL').toUpperCase().split(','));
for (const w of only)
  if (!['W1', 'W2', 'W3', 'W4', 'PULL'].includes(w))
    throw new Error(`BENCH_ONLY=${process.env.BENCH_ONLY}: ${w} is not W1..W4 or PULL`);
if (!runs || !largeRuns || sizes.some((s) => !(s > 0)))
  throw new Error('BENCH_RUNS and BENCH_SIZES take whole numbers above 0');
const IMAGE = 'localhost/busybox:demo';
// Every process the bench starts, and every container it asks for, carries this (see proc-memory.mjs).
const MARK = { name: 'BENCH_MARK', value: randomBytes(8).toString('hex') };
const marker = `${MARK.name}=${MARK.value}`;
const home = mkdtempSync(join(tmpdir(), 'podbox-bench-'));
// Loopback-only pods, as podman's `--network none` next to them; W2 also times each --network.
const env = { PODBOX_NETWORK: 'none', ...process.env, PODBOX_HOME: home, [MARK.name]: MARK.value };
const rootless = process.getuid() !== 0;
const runcRoot = join(home, 'runc');
const benchStart = processSnapshot();

/** Runs a command to its exit: {total, first} ms (first: when stdout first matched `until`). */
function timed(cmd, args, { until, cmdEnv = env } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let first;
    let out = '';
    let err = '';
    const p = spawn(cmd, args, { env: cmdEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    p.stdout.on('data', (d) => {
      out += d;
      if (until && first === undefined && until.test(out)) first = performance.now() - t0;
    });
    p.stderr.on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('exit', (code) => {
      const total = performance.now() - t0;
      // A detached child (runc run -d, a daemon) may still hold the pipes: do not wait for them.
      p.stdout.destroy();
      p.stderr.destroy();
      if (code !== 0) reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err.trim() || out.trim()}`));
      else resolve({ total, first: first ?? total });
    });
  });
}

/** Wall time of commands run one after the other (parallel=false) or all at once. */
async function timeAll(commands, parallel) {
  const t0 = performance.now();
  if (parallel) {
    const settled = await Promise.allSettled(commands.map(([cmd, args, o]) => timed(cmd, args, o)));
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
  } else for (const [cmd, args, o] of commands) await timed(cmd, args, o);
  return performance.now() - t0;
}

/** Best effort, for clean-up: never throws. */
function quietly(cmd, args, o = {}) {
  spawnSync(cmd, args, { env, stdio: 'ignore', timeout: 120_000, ...o });
}

const median = (xs) => {
  const s = xs.filter((x) => x !== undefined).sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : undefined;
};

/** A pod of n long-running containers that carry the marker. */
function sleepPod(name, n) {
  const containers = Array.from({ length: n }, (_, i) => ({
    name: `c${i}`,
    image: IMAGE,
    command: ['sleep', '3600'],
    env: [MARK],
  }));
  const file = join(home, `${name}.yaml`);
  // JSON is YAML: both podbox and podman read it.
  writeFileSync(file, JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { containers } }));
  return file;
}

/** The pods of a W3 ("pod": one pod of n containers) or W4 ("pods": n one-container pods) run. */
const podNames = (shape, n) => (shape === 'pod' ? [`w3-${n}`] : Array.from({ length: n }, (_, i) => `w4-${n}-${i}`));
const containersPerPod = (shape, n) => (shape === 'pod' ? n : 1);

/**
 * The three tools, each able to bring n long-running containers up and down:
 * shape "pod" (W3: one pod of n containers) or "pods" (W4: n one-container pods at once).
 * up/down return ms; cleanup never throws.
 */
function podboxTool() {
  return {
    name: 'podbox',
    up: (shape, n) =>
      timeAll(
        podNames(shape, n).map((pod) => [podbox, ['run', '-d', sleepPod(pod, containersPerPod(shape, n))]]),
        true,
      ),
    // One `podbox delete a b c` for all pods: it deletes them concurrently.
    down: (shape, n) => timeAll([[podbox, ['delete', '--grace-period', '0', ...podNames(shape, n)]]], false),
    cleanup() {
      let pods = [];
      try {
        pods = JSON.parse(execFileSync(podbox, ['get', '-o', 'json'], { env }).toString()).items.map(
          (p) => p.metadata.name,
        );
      } catch {
        /* no pods, or podbox broken: the process sweep below still runs */
      }
      if (pods.length) quietly(podbox, ['delete', '--grace-period', '0', ...pods]);
    },
  };
}

function floorTool(bundle) {
  const ids = (shape, n) => Array.from({ length: n }, (_, i) => `${shape}-${n}-${i}`);
  return {
    name: 'floor',
    // W3: containers one after the other (as a pod starts them); W4: all at once.
    up: (shape, n) =>
      timeAll(
        ids(shape, n).map((id) => ['runc', ['--root', runcRoot, 'run', '-d', '--bundle', bundle, id]]),
        shape === 'pods',
      ),
    down: (shape, n) =>
      timeAll(
        ids(shape, n).map((id) => ['runc', ['--root', runcRoot, 'delete', '--force', id]]),
        shape === 'pods',
      ),
    cleanup() {
      const list = spawnSync('runc', ['--root', runcRoot, 'list', '-q'], { encoding: 'utf8' });
      for (const id of (list.stdout || '').split('\n').filter(Boolean))
        quietly('runc', ['--root', runcRoot, 'delete', '--force', id]);
    },
  };
}

function podmanTool(pm) {
  const o = { cmdEnv: pm.env };
  return {
    name: 'podman',
    // `kube play` returns once the pod's containers are started (detached is its default).
    up: (shape, n) =>
      timeAll(
        podNames(shape, n).map((pod) => [
          'podman',
          [...pm.args, 'kube', 'play', '--network', 'none', sleepPod(pod, containersPerPod(shape, n))],
          o,
        ]),
        true,
      ),
    // -t 0: no grace period, as podbox's --grace-period 0 (busybox sleep as pid 1 ignores SIGTERM).
    down: (shape, n) =>
      timeAll([['podman', [...pm.args, 'pod', 'rm', '-f', '-t', '0', ...podNames(shape, n)], o]], false),
    cleanup() {
      quietly('podman', [...pm.args, 'pod', 'rm', '-a', '-f', '-t', '0'], { env: pm.env });
      quietly('podman', [...pm.args, 'rm', '-a', '-f', '-t', '0'], { env: pm.env });
    },
  };
}

/** W3/W4 for one tool and size: medians of up, down and memory left running, over runsFor(n) runs. */
async function scale(tool, shape, n, warm) {
  const one = async () => {
    const before = processSnapshot();
    let downed = false;
    try {
      const up = await tool.up(shape, n);
      const procs = await settledLeftRunning(before, marker);
      const down = await tool.down(shape, n);
      downed = true;
      return { up, down, mem: memoryTotals(procs) };
    } finally {
      if (!downed) tool.cleanup();
    }
  };
  if (warm && !quick) await one();
  const xs = [];
  for (let i = 0; i < runsFor(n); i++) xs.push(await one());
  return {
    up: median(xs.map((x) => x.up)),
    down: median(xs.map((x) => x.down)),
    rssKiB: median(xs.map((x) => x.mem.rssKiB)),
    pssKiB: median(xs.map((x) => x.mem.pssKiB)),
    processes: xs[0].mem.processes,
    byCommand: xs[0].mem.byCommand,
    unreadable: xs[0].mem.unreadable,
    runs: xs,
  };
}

/** W1/W2: median of `fn` (ms, or {key: ms}) over `runs` runs, after a warm-up. */
async function series(fn) {
  if (!quick) await fn();
  const xs = [];
  for (let i = 0; i < runs; i++) xs.push(await fn());
  if (typeof xs[0] === 'number') return { median: median(xs), runs: xs };
  return Object.fromEntries(Object.keys(xs[0]).map((k) => [k, { median: median(xs.map((x) => x[k])), runs: xs }]));
}

/** Runs fn on each item, one after the other (timings must not overlap). */
async function sequential(items, fn) {
  const out = [];
  for (const x of items) out.push(await fn(x));
  return out;
}

/**
 * The environment of a run whose `pasta` is a stand-in (in the bench's home): it writes its
 * daemon's pid to the --pid file and exits 0, as pasta does once the pod's interface is set up;
 * the daemon is a `sleep` that the pod's teardown stops (SIGTERM), as it stops pasta.
 */
function stubPastaEnv() {
  const dir = join(home, 'stub-pasta');
  const file = join(dir, 'pasta');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    file,
    '#!/bin/sh\n' +
      'while [ $# -gt 0 ]; do [ "$1" = --pid ] && pidfile=$2; shift; done\n' +
      'sleep 3600 </dev/null >/dev/null 2>&1 &\n' +
      'echo $! > "$pidfile"\n',
    { mode: 0o755 },
  );
  return { ...env, PATH: `${dir}:${env.PATH}` };
}

/** W2's --network rounds: each round's time with mode k less its time with none. */
const overNone = (n, k) => n[k].runs.map((r) => r[k] - r.none);
const ms = (x) => (x === undefined ? '-' : `${Math.round(x)} ms`);
const mib = (kib) => (kib === undefined ? '-' : `${(kib / 1024).toFixed(1)} MiB`);
const ratio = (a, b) => (a === undefined || b === undefined || !b ? '-' : `${(a / b).toFixed(1)}×`);
const table = (head, rows) =>
  [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join(
    '\n',
  );

let pm;
const tools = [];
const results = { machine: {}, settings: { runs, largeRuns, sizes, quick, only: [...only] } };
try {
  // Step 1: images and bundles.
  execFileSync('sh', [join(root, 'examples', 'busybox-image.sh'), IMAGE], { env, stdio: 'inherit' });
  const image = JSON.parse(execFileSync(podbox, ['image', 'ls', '-o', 'json'], { env }).toString()).find((i) =>
    i.names.some((n) => n.includes('busybox:demo')),
  );
  // The image's unpacked root filesystem in the store (src/image/store.ts: images/sha256/<id>/rootfs):
  // the floor runs it as is, and podman imports a tar of it, so all three run the same files.
  const rootfs = join(home, 'images', 'sha256', image.id.replace(/^sha256:/, ''), 'rootfs');
  const echoBundle = floorBundle(join(home, 'bundle-echo'), rootfs, ['echo', 'hello']);
  const sleepBundle = floorBundle(join(home, 'bundle-sleep'), rootfs, ['sleep', '3600'], [marker]);
  pm = privatePodman(join(home, 'podman'), env);
  if (pm) {
    execFileSync('tar', ['-C', rootfs, '-cf', join(home, 'rootfs.tar'), '.']);
    pm.run(['import', '-q', '--change', 'CMD=["sh"]', '--change', 'ENV=PATH=/bin', join(home, 'rootfs.tar'), IMAGE]);
  }
  tools.push(podboxTool(), floorTool(sleepBundle), ...(pm ? [podmanTool(pm)] : []));
  const runcVersion = execFileSync('runc', ['--version']).toString().split('\n')[0];
  results.machine = {
    nproc: cpus().length,
    kernel: release(),
    node: process.version,
    podbox: JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version,
    runc: runcVersion,
    podman: pm
      ? `${pm.version} (${pm.rootless ? 'rootless' : 'rootful'}, storage ${pm.driver}, runc, network none)`
      : 'not on PATH, not measured',
    user: rootless ? `rootless (uid ${process.getuid()})` : 'root',
  };

  // Step 2: one-shot workloads.
  let n = 0;
  const floorEcho = () => timed('runc', ['--root', runcRoot, 'run', '--bundle', echoBundle, `echo-${n++}`]);
  if (only.has('W1')) {
    const onePod = join(home, 'one.yaml');
    writeFileSync(
      onePod,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'one' },
        spec: { restartPolicy: 'Never', containers: [{ name: 'hello', image: IMAGE, command: ['echo', 'hello'] }] },
      }),
    );
    results.W1 = {
      floor: await series(async () => (await floorEcho()).total),
      podbox: await series(async () => (await timed(podbox, ['run', onePod])).total),
      podman: pm
        ? await series(
            async () =>
              (
                await timed('podman', [...pm.args, 'run', '--rm', '--network', 'none', IMAGE, 'echo', 'hello'], {
                  cmdEnv: pm.env,
                })
              ).total,
          )
        : undefined,
    };
  }
  if (only.has('W2')) {
    const demo = join(root, 'examples', 'demo-pod.yaml');
    results.W2 = {
      // The floor of a three-container pod: three bare containers one after the other.
      floor: await series(async () => {
        const t0 = performance.now();
        for (let i = 0; i < 3; i++) await floorEcho();
        return performance.now() - t0;
      }),
      podbox: await series(async () => {
        const r = await timed(podbox, ['run', demo], { until: /client +\| / });
        return { output: r.first, exit: r.total };
      }),
      // The same run with each pod network (the issue's target: a stack costs <= 30 ms over none),
      // the modes taking turns in each round, so a load that comes and goes on the machine falls
      // on each alike rather than on whichever ran its runs then.
      // "pasta, stubbed": --network=pasta with a stand-in for pasta first on PATH, which starts no
      // stack (it leaves a process for the pod to stop and writes the pid file, as pasta does): what
      // podbox itself adds for a pod's stack, pasta's own start-up left out.
      network: await series(async () =>
        Object.fromEntries(
          await sequential(['none', 'pasta', 'slirp4netns', 'pasta, stubbed'], async (mode) => [
            mode,
            mode === 'pasta, stubbed'
              ? (await timed(podbox, ['run', '--network=pasta', demo], { cmdEnv: stubPastaEnv() })).total
              : (await timed(podbox, ['run', `--network=${mode}`, demo])).total,
          ]),
        ),
      ),
      // kube play returns once started; then wait for both app containers (podman names them POD-CONTAINER).
      // The pod's removal is not timed (podbox's foreground run removes it before it exits).
      podman: pm
        ? await series(async () => {
            const t0 = performance.now();
            try {
              await timed('podman', [...pm.args, 'kube', 'play', '--network', 'none', demo], { cmdEnv: pm.env });
              await timed('podman', [...pm.args, 'wait', 'demo-web', 'demo-client'], { cmdEnv: pm.env });
              return performance.now() - t0;
            } finally {
              quietly('podman', [...pm.args, 'pod', 'rm', '-f', '-t', '0', 'demo'], { env: pm.env });
            }
          })
        : undefined,
    };
  }

  if (only.has('PULL') && pullAvailable()) results.PULL = await pullBench({ podbox, env, work: home, timed, series });

  // Step 3: at scale.
  for (const [w, shape] of [
    ['W3', 'pod'],
    ['W4', 'pods'],
  ]) {
    if (!only.has(w)) continue;
    results[w] = {};
    for (const tool of tools) {
      results[w][tool.name] = {};
      for (const [i, size] of sizes.entries()) results[w][tool.name][size] = await scale(tool, shape, size, i === 0);
    }
  }

  // Step 4: report.
  const m = results.machine;
  const large = sizes.some((s) => s >= 10) ? ` (${largeRuns} at N, P >= 10)` : '';
  const warm = quick ? ' (BENCH_QUICK)' : ', after a warm-up run';
  console.log(
    `\n## podbox benchmark\n\nMedians of ${runs} run(s)${large}${warm}. ` +
      `Machine: ${m.nproc} CPUs, Linux ${m.kernel}, node ${m.node}, ${m.runc}, podbox ${m.podbox}, ${m.user}.\n` +
      `podman: ${m.podman}.\n` +
      'floor: bare `runc run` of the same root filesystem (`runc spec' +
      (rootless ? ' --rootless`: a user namespace per container' : '`') +
      '), no pod, no supervisor.\n',
  );
  const W = results;
  if (W.W1 || W.W2) {
    const rows = [];
    if (W.W1)
      rows.push([
        'W1 one container `echo`, to exit',
        ms(W.W1.podbox.median),
        ms(W.W1.floor.median),
        ms(W.W1.podman?.median),
        ratio(W.W1.podbox.median, W.W1.floor.median),
      ]);
    if (W.W2) {
      rows.push([
        'W2 demo pod, to client output',
        ms(W.W2.podbox.output.median),
        ms(W.W2.floor.median),
        '-',
        ratio(W.W2.podbox.output.median, W.W2.floor.median),
      ]);
      rows.push([
        'W2 demo pod, to exit',
        ms(W.W2.podbox.exit.median),
        ms(W.W2.floor.median),
        ms(W.W2.podman?.median),
        ratio(W.W2.podbox.exit.median, W.W2.floor.median),
      ]);
    }
    console.log(table(['workload', 'podbox', 'floor', 'podman', 'podbox/floor'], rows) + '\n');
    const notes = [
      W.W1 && 'W1 podman: `run --rm --network none`.',
      W.W2 && 'W2 floor: three bare containers (`echo`) one after the other.',
      W.W2 && 'W2 podman: `kube play --network none` + `wait` for both app containers (removal not timed).',
    ];
    console.log(notes.filter(Boolean).join(' ') + '\n');
    if (W.W2) {
      const n = W.W2.network;
      const none = n.none?.median;
      const cols = Object.keys(n);
      console.log(
        table(
          ['W2 demo pod, to exit, by --network', ...cols],
          [
            ['median', ...cols.map((k) => ms(n[k].median))],
            ['over none', ...cols.map((k) => (none === undefined ? '-' : `${Math.round(n[k].median - none)} ms`))],
            // Each round's runs were back to back: the median of their differences.
            ['over none, by round', ...cols.map((k) => (none === undefined ? '-' : ms(median(overNone(n, k)))))],
          ],
        ) +
          '\n\n"pasta, stubbed": `--network=pasta` with a stand-in for pasta that starts no stack, so what podbox ' +
          "itself adds for a pod's stack; pasta's own start-up is the rest of the pasta column.\n",
      );
    }
  }
  if (W.PULL) {
    const P = W.PULL;
    console.log(
      `### pull: an image of 4 gzip layers, ${(P.sizeBytes / 1e6).toFixed(0)} MB, from docker-registry on 127.0.0.1\n`,
    );
    console.log(
      table(
        ['workload', 'podbox', 'skopeo copy + podbox image load', 'podbox/that'],
        [
          [
            'first pull',
            ms(P.pull.median),
            `${ms(P.skopeoLoad.total.median)} (${ms(P.skopeoLoad.copy.median)} + ${ms(P.skopeoLoad.load.median)})`,
            ratio(P.pull.median, P.skopeoLoad.total.median),
          ],
          ['second pull (image present)', ms(P.again.median), '-', '-'],
          ['for scale: `podbox image inspect` of it', ms(P.inspect.median), '-', '-'],
        ],
      ) + '\n',
    );
  }
  for (const [w, title, unit] of [
    ['W3', 'W3: one pod of N `sleep 3600` containers', 'N'],
    ['W4', 'W4: P one-container pods started at once', 'P'],
  ]) {
    if (!W[w]) continue;
    const get = (tool, size) => W[w][tool]?.[size];
    const rows = sizes.map((s) => [
      s,
      ms(get('podbox', s).up),
      ms(get('floor', s).up),
      ms(get('podman', s)?.up),
      ratio(get('podbox', s).up, get('podman', s)?.up),
      ms(get('podbox', s).down),
      ms(get('floor', s).down),
      ms(get('podman', s)?.down),
      ratio(get('podbox', s).down, get('podman', s)?.down),
    ]);
    console.log(`### ${title}: up and down\n`);
    console.log(
      table(
        [
          unit,
          'up podbox',
          'up floor',
          'up podman',
          'podbox/podman',
          'down podbox',
          'down floor',
          'down podman',
          'podbox/podman',
        ],
        rows,
      ) + '\n',
    );
    const pods = (s) => (w === 'W3' ? 1 : s);
    const memRows = sizes.map((s) => {
      const cell = (tool) => {
        const r = get(tool, s);
        return r ? `${mib(r.rssKiB)} / ${mib(r.pssKiB)} (${r.processes})` : '-';
      };
      const perPod = (tool, k) => (get(tool, s) ? get(tool, s)[k] / pods(s) : undefined);
      return [
        s,
        cell('podbox'),
        cell('floor'),
        cell('podman'),
        `${mib(perPod('podbox', 'pssKiB'))} / ${mib(perPod('floor', 'pssKiB'))} / ${mib(perPod('podman', 'pssKiB'))}`,
        ratio(perPod('podbox', 'pssKiB'), perPod('podman', 'pssKiB')),
      ];
    });
    console.log(`### ${title}: memory left running after up\n`);
    console.log(
      table(
        [
          unit,
          'podbox RSS / PSS (procs)',
          'floor RSS / PSS (procs)',
          'podman RSS / PSS (procs)',
          'PSS per pod podbox / floor / podman',
          'PSS podbox/podman',
        ],
        memRows,
      ) + '\n',
    );
    const big = sizes[sizes.length - 1];
    const who = (tool) =>
      get(tool, big)
        ? `${tool}: ${Object.entries(get(tool, big).byCommand)
            .map(([c, k]) => `${k} ${c}`)
            .join(', ')}`
        : undefined;
    const unreadable = ['podbox', 'floor', 'podman'].filter((t) => sizes.some((s) => get(t, s)?.unreadable));
    if (unreadable.length) console.log(`Warning: some smaps_rollup were not readable (${unreadable.join(', ')}).\n`);
    console.log(
      `Processes counted at ${unit}=${big}: ${['podbox', 'floor', 'podman'].map(who).filter(Boolean).join('; ')}.\n`,
    );
  }
  if (W.W3 || W.W4)
    console.log(
      'Up: until the start commands return (podbox `run -d`, podman `kube play --network none`, floor `runc run -d`; ' +
        'W4 starts all P at once). Down: until the delete returns (one `podbox delete --grace-period 0 NAME...` ' +
        'for all pods; `podman pod rm -f -t 0 NAME...`; floor `runc delete --force` each, W4 all at once); ' +
        'no grace period anywhere, as busybox `sleep` as a pid 1 ignores SIGTERM and would wait out 30 s. ' +
        'Memory: RSS and PSS (/proc/PID/smaps_rollup) of every process the workload left running, found by ' +
        'its environment marker, its parent and its namespaces' +
        (pm ? "; podman's count includes each pod's infra container (catatonit) and every conmon" : '') +
        (pm?.rootless ? ', and its rootless pause process (catatonit) that holds its user namespace' : '') +
        '.',
    );
  if (process.env.BENCH_JSON) writeFileSync(process.env.BENCH_JSON, JSON.stringify(results, null, 2) + '\n');
} finally {
  // Step 5: clean-up, also after a failure.
  for (const tool of tools) tool.cleanup();
  if (pm) {
    quietly('podman', [...pm.args, 'system', 'reset', '-f'], { env: pm.env });
    // Rootless storage holds files of subordinate ids: only podman's user namespace can remove them.
    if (pm.rootless) quietly('podman', [...pm.args, 'unshare', 'rm', '-rf', join(home, 'podman')], { env: pm.env });
  }
  // Whatever the tools left (podman's rootless pause process; anything a failed delete left behind).
  for (const p of leftRunning(benchStart, marker)) {
    if (process.env.BENCH_DEBUG) console.error(`bench: killing what was left: ${p.pid} ${p.comm}`);
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  quietly(podbox, ['image', 'rm', IMAGE]);
  rmSync(home, { recursive: true, force: true });
}
