#!/usr/bin/env node
// `npm run bench`: median wall time, over repeated runs, of
//   - `podbox run` of a one-container pod (busybox echo) from command start to exit;
//   - the demo pod (examples/demo-pod.yaml) from command start to the client container's output,
//     and to exit;
//   - the floor: the same one-container workload started with bare `runc run` (rootless when
//     not root: `runc spec --rootless`), without any pod around it.
// Runs against a private PODBOX_HOME so it never touches the user's pods or images.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const podbox = join(root, 'bin', 'podbox');
const runs = Number(process.env.BENCH_RUNS || 15);
const home = mkdtempSync(join(tmpdir(), 'podbox-bench-'));
const env = { ...process.env, PODBOX_HOME: home };

function timed(cmd, args, { until } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let first;
    let out = '';
    const p = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'inherit'] });
    p.stdout.on('data', (d) => {
      out += d;
      if (until && first === undefined && until.test(out)) first = performance.now() - t0;
    });
    p.on('exit', (code) => {
      const total = performance.now() - t0;
      if (code !== 0) reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${out}`));
      else resolve({ total, first: first ?? total });
    });
  });
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
const fmt = (ms) => `${ms.toFixed(0).padStart(5)} ms`;

async function series(label, fn) {
  await fn(); // warm-up: page cache, image lookups
  const xs = [];
  for (let i = 0; i < runs; i++) xs.push(await fn());
  return { label, xs };
}

try {
  execFileSync('sh', [join(root, 'examples', 'busybox-image.sh'), 'localhost/busybox:demo'], { env, stdio: 'inherit' });
  const onePod = join(home, 'one.yaml');
  writeFileSync(
    onePod,
    'apiVersion: v1\nkind: Pod\nmetadata: {name: one}\nspec:\n  restartPolicy: Never\n  containers:\n  - {name: hello, image: localhost/busybox:demo, command: [echo, hello]}\n',
  );

  // The floor: a rootless runc bundle of the same root filesystem.
  const bundle = join(home, 'bundle');
  mkdirSync(bundle);
  const rootfsSrc = JSON.parse(execFileSync(podbox, ['image', 'ls', '-o', 'json'], { env }).toString()).find((i) =>
    i.names.some((n) => n.includes('busybox:demo')),
  );
  const rootless = process.getuid() !== 0;
  execFileSync('runc', ['spec', ...(rootless ? ['--rootless'] : []), '--bundle', bundle]);
  const spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8'));
  spec.process.terminal = false;
  spec.process.args = ['echo', 'hello'];
  // The image's unpacked root filesystem in the store (src/image/store.ts: images/sha256/<id>/rootfs).
  spec.root = { path: join(home, 'images', 'sha256', rootfsSrc.id.replace(/^sha256:/, ''), 'rootfs'), readonly: true };
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec));
  const runcRoot = join(home, 'runc');
  let n = 0;
  const results = [];
  results.push(
    await series(
      'bare runc run (echo), the floor',
      async () => (await timed('runc', ['--root', runcRoot, 'run', '--bundle', bundle, `b${n++}`])).total,
    ),
  );
  results.push(await series('podbox run, one-container pod', async () => (await timed(podbox, ['run', onePod])).total));
  const demo = join(root, 'examples', 'demo-pod.yaml');
  const demoRuns = await series(
    'podbox run demo: to client output',
    async () => (await timed(podbox, ['run', demo], { until: /client \| / })).first,
  );
  results.push(demoRuns);
  results.push(await series('podbox run demo: to exit', async () => (await timed(podbox, ['run', demo])).total));

  console.log(
    `\npodbox benchmark: median of ${runs} runs (${rootless ? 'rootless' : 'as root'}, ${process.arch}, node ${process.version})`,
  );
  for (const r of results)
    console.log(
      `  ${r.label.padEnd(40)} ${fmt(median(r.xs))}   (min ${fmt(Math.min(...r.xs))}, max ${fmt(Math.max(...r.xs))})`,
    );
} finally {
  try {
    execFileSync(podbox, ['image', 'rm', 'localhost/busybox:demo'], { env, stdio: 'ignore' });
  } catch {
    /* not imported */
  }
  rmSync(home, { recursive: true, force: true });
}
