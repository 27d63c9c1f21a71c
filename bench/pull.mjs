// The "pull" family of `npm run bench`: `podbox image pull` of a ~100 MB image of 4 layers from a
// docker-registry on 127.0.0.1, next to `skopeo copy` of it to an OCI layout plus `podbox image load`
// of that layout (the same bytes fetched and unpacked by the tools people already have), and a second
// pull of the image once present. Only where docker-registry and skopeo are installed.
import { spawn, execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { existsSync, mkdirSync, mkdtempSync, openSync, closeSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';

export const pullAvailable = () => ['/usr/bin/docker-registry', '/usr/bin/skopeo'].every((p) => existsSync(p));

const sha = (b) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Random (incompressible) files in 4 gzip layers, as an OCI layout. */
function writeLayout(dir, totalMiB) {
  mkdirSync(join(dir, 'blobs/sha256'), { recursive: true });
  const blob = (b) => (writeFileSync(join(dir, 'blobs/sha256', sha(b).slice(7)), b), sha(b));
  const layers = [];
  for (let l = 0; l < 4; l++) {
    const files = join(dir, `files-${l}`);
    mkdirSync(files);
    for (let f = 0; f < 25; f++) {
      writeFileSync(join(files, `f${f}`), randomBytes((totalMiB << 20) / 100));
    }
    const tar = execFileSync('tar', ['-C', files, '--numeric-owner', '--owner=0', '--group=0', '-cf', '-', '.'], {
      maxBuffer: 1 << 30,
    });
    rmSync(files, { recursive: true });
    const gz = gzipSync(tar, { level: 1 });
    layers.push({
      mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
      digest: blob(gz),
      size: gz.length,
      diffId: sha(tar),
    });
  }
  const config = Buffer.from(
    JSON.stringify({
      architecture: process.arch === 'arm64' ? 'arm64' : 'amd64',
      os: 'linux',
      config: { Cmd: ['sh'] },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: blob(config), size: config.length },
      layers: layers.map(({ mediaType, digest, size }) => ({ mediaType, digest, size })),
    }),
  );
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: blob(manifest),
          size: manifest.length,
          annotations: { 'org.opencontainers.image.ref.name': 'big' },
        },
      ],
    }),
  );
  return layers.reduce((n, l) => n + l.size, 0);
}

async function startRegistry(dir) {
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  writeFileSync(
    join(dir, 'config.yml'),
    ['version: 0.1', 'log:', '  level: error', '  accesslog:', '    disabled: true', 'storage:', '  filesystem:']
      .concat([`    rootdirectory: ${join(dir, 'storage')}`, 'http:', `  addr: ${host}`, `  secret: bench`])
      .join('\n') + '\n',
  );
  const log = openSync(join(dir, 'registry.log'), 'a');
  const proc = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: ['ignore', log, log] });
  closeSync(log);
  const exited = new Promise((r) => proc.once('exit', r));
  const end = Date.now() + 10_000;
  for (;;) {
    try {
      execFileSync('skopeo', ['list-tags', '--tls-verify=false', `docker://${host}/none`], { stdio: 'pipe' });
      break;
    } catch (e) {
      // A 404 for the repository means the registry answers.
      if (/NAME_UNKNOWN|repository name not known|404/.test(String(e.stderr))) break;
      if (Date.now() > end || proc.exitCode !== null)
        throw new Error(`docker-registry did not start: ${readFileSync(join(dir, 'registry.log'), 'utf8')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    host,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        await exited;
      }
    },
  };
}

/**
 * Runs the family. `timed(cmd, args, {cmdEnv})` and `series(fn)` are run.mjs's. Returns
 * {sizeBytes, pull, skopeoLoad: {copy, load, total}, again, inspect} in ms (medians in `series` form).
 */
export async function pullBench({ podbox, env, work, timed, series }) {
  const dir = mkdtempSync(join(work, 'pull-'));
  const reg = await startRegistry(dir);
  try {
    const sizeBytes = writeLayout(join(dir, 'layout'), 100);
    const ref = `${reg.host}/bench/big:1`;
    execFileSync('skopeo', [
      'copy',
      '-q',
      '--dest-tls-verify=false',
      `oci:${join(dir, 'layout')}:big`,
      `docker://${ref}`,
    ]);
    rmSync(join(dir, 'layout'), { recursive: true, force: true });
    let n = 0;
    const freshHome = () => {
      const h = join(dir, `home-${n++}`);
      mkdirSync(h);
      return { h, e: { ...env, PODBOX_HOME: h } };
    };
    // The store's files may belong to subordinate ids: podbox removes its images, then the home goes.
    const dropHome = ({ h, e }) => {
      try {
        execFileSync(podbox, ['image', 'rm', '-f', ref], { env: e, stdio: 'ignore' });
      } catch {
        /* not there */
      }
      rmSync(h, { recursive: true, force: true });
    };
    const pull = await series(async () => {
      const home = freshHome();
      try {
        return (await timed(podbox, ['image', 'pull', '-q', ref], { cmdEnv: home.e })).total;
      } finally {
        dropHome(home);
      }
    });
    const skopeoLoad = await series(async () => {
      const home = freshHome();
      const layout = join(dir, `oci-${n}`);
      try {
        const copy = (
          await timed('skopeo', ['copy', '-q', '--src-tls-verify=false', `docker://${ref}`, `oci:${layout}:big`], {
            cmdEnv: home.e,
          })
        ).total;
        const load = (await timed(podbox, ['image', 'load', layout], { cmdEnv: home.e })).total;
        return { copy, load, total: copy + load };
      } finally {
        rmSync(layout, { recursive: true, force: true });
        dropHome(home);
      }
    });
    const home = freshHome();
    try {
      await timed(podbox, ['image', 'pull', '-q', ref], { cmdEnv: home.e });
      const again = await series(
        async () => (await timed(podbox, ['image', 'pull', '-q', ref], { cmdEnv: home.e })).total,
      );
      // What any podbox command costs (start-up, reading the store): the part of `again` that is not the pull's.
      const inspect = await series(
        async () => (await timed(podbox, ['image', 'inspect', ref], { cmdEnv: home.e })).total,
      );
      return { sizeBytes, pull, skopeoLoad, again, inspect };
    } finally {
      dropHome(home);
    }
  } finally {
    await reg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
