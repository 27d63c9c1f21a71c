// The floor: the same busybox root filesystem run by bare runc, with no pod, no supervisor and no
// image store around it. Rootless when the bench is not root (`runc spec --rootless`: a user
// namespace per container mapping only the caller's uid). What no pod manager can go below.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A runc bundle in `dir` running `args` on `rootfs` (read-only, shared by every container of it),
 * with `extraEnv` ("K=V" strings) added to the process environment.
 */
export function floorBundle(dir, rootfs, args, extraEnv = []) {
  mkdirSync(dir, { recursive: true });
  const rootless = process.getuid() !== 0;
  execFileSync('runc', ['spec', ...(rootless ? ['--rootless'] : []), '--bundle', dir]);
  const spec = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  spec.process.terminal = false;
  spec.process.args = args;
  spec.process.env = [...spec.process.env, ...extraEnv];
  spec.root = { path: rootfs, readonly: true };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(spec));
  return dir;
}
