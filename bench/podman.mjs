// podman for the side-by-side columns, when it is installed: a private store and configuration under
// the bench's temporary directory, so the bench neither sees nor leaves anything in the user's podman.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** `ulimit -H` of this process for one /proc/self/limits row, e.g. "Max open files". */
function hardLimit(row) {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(row));
  return line?.slice(row.length).trim().split(/\s+/)[1];
}

/**
 * The podman command line and environment for a private podman in `dir`, or undefined when podman
 * is not on PATH. The configuration is what this machine needs (MACHINE-NOTES: no systemd, so
 * runc + cgroupfs + a file events log); the network is "none", as podbox's pods have only loopback.
 */
export function privatePodman(dir, env) {
  const probe = spawnSync('podman', ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) return undefined;
  const rootless = process.getuid() !== 0;
  const runtimeDir = join(dir, 'xdg-runtime');
  mkdirSync(runtimeDir, { recursive: true, mode: 0o700 });
  mkdirSync(join(dir, 'tmp'), { recursive: true });
  const conf = join(dir, 'containers.conf');
  const lines = ['[engine]', 'runtime = "runc"', 'cgroup_manager = "cgroupfs"', 'events_logger = "file"'];
  lines.push(`tmp_dir = "${join(dir, 'tmp')}"`);
  if (!rootless) {
    // Rootful podman raises the containers' nofile/nproc limits to 1M/4M, which fails where root lacks
    // CAP_SYS_RESOURCE (this sandbox): use the limits the bench itself runs with, capped low enough
    // that runc may set them. (Rootless podman keeps the caller's limits by itself.)
    const nofile = Math.min(Number(hardLimit('Max open files')) || 1024, 1024);
    lines.splice(0, 0, '[containers]', `default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=1024:1024"]`);
  }
  writeFileSync(conf, lines.join('\n') + '\n');
  const podmanEnv = { ...env, CONTAINERS_CONF: conf, XDG_RUNTIME_DIR: runtimeDir };
  // overlay (native, in the user namespace, on Linux >= 5.13) when this podman can use it, as podbox does; else vfs.
  for (const driver of ['overlay', 'vfs']) {
    const args = ['--root', join(dir, 'root'), '--runroot', join(dir, 'runroot'), '--storage-driver', driver];
    const run = (more, opts = {}) =>
      execFileSync('podman', [...args, ...more], { env: podmanEnv, stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    try {
      run(['info']);
    } catch {
      continue;
    }
    return { args, env: podmanEnv, run, version: probe.stdout.trim(), rootless, driver };
  }
  throw new Error(`podman works with neither the overlay nor the vfs storage driver in ${dir}: see \`podman info\``);
}
