import { existsSync, lstatSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { expect } from 'vitest';
import { cli, makeHome, PODBOX, type CliResult } from './cli.js';
import { podIdMapping } from '../../src/sandbox/idmap.js';

/** A private PODBOX_HOME for image tests, and what they check about the store in it. */
export function imageHome() {
  const home = makeHome();
  const c = cli(home);
  const images = join(home, 'images');
  return {
    home,
    run: c.run,
    env: c.env,
    /** runs podbox with a file as stdin */
    async runWithStdin(args: string[], file: string): Promise<CliResult> {
      const r = await execa(PODBOX, args, { env: c.env, reject: false, inputFile: file, timeout: 60_000 });
      return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
    },
    async json(): Promise<{ id: string; names: string[]; size: number; created: string | null }[]> {
      const r = await c.run(['image', 'ls', '-o', 'json']);
      expect(r.stderr).toBe('');
      expect(r.exitCode).toBe(0);
      return JSON.parse(r.stdout);
    },
    async inspect(ref: string): Promise<{
      id: string;
      names: string[];
      digests: string[];
      rootfs: string;
      config: Record<string, unknown>;
      size: number;
      created?: string;
    }> {
      const r = await c.run(['image', 'inspect', ref]);
      expect(r.stderr).toBe('');
      return JSON.parse(r.stdout);
    },
    /** image directories and work directories left in the store */
    leftovers(): { images: string[]; tmp: string[] } {
      const ls = (d: string) => (existsSync(d) ? readdirSync(d) : []);
      return { images: ls(join(images, 'sha256')), tmp: ls(join(images, 'tmp')) };
    },
    /** removes every image through podbox (their files may belong to subordinate ids), then the home */
    async cleanup(): Promise<void> {
      const r = await c.run(['image', 'ls', '-o', 'json']);
      for (const img of JSON.parse(r.stdout || '[]') as { id: string }[]) {
        const rm = await c.run(['image', 'rm', '-f', img.id]);
        expect(rm.stderr).toBe('');
      }
      rmSync(home, { recursive: true, force: true });
    },
  };
}

/** The host uid a pod uid is stored as: itself as root, the subordinate range rootless. */
export function hostId(podId: number, kind: 'uid' | 'gid' = 'uid'): number | undefined {
  const m = podIdMapping();
  for (const r of m[kind]) if (podId >= r.inside && podId < r.inside + r.count) return r.outside + podId - r.inside;
  return undefined;
}

/** Every path under dir, sorted: `d/` for directories, `l -> target` for symlinks, `p|` for fifos. */
export function tree(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name),
      rel = prefix + name,
      st = lstatSync(p);
    if (st.isDirectory()) out.push(`${rel}/`, ...tree(p, `${rel}/`));
    else if (st.isSymbolicLink()) out.push(`${rel} -> ${readlinkSync(p)}`);
    else if (st.isFIFO()) out.push(`${rel}|`);
    else out.push(rel);
  }
  return out;
}
