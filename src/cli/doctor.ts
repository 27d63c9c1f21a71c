import type { Command } from 'commander';
import { existsSync, statSync, mkdtempSync, mkdirSync, rmSync, accessSync, constants, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir, userInfo } from 'node:os';
import { execFileSync } from 'node:child_process';
import { runInUserNamespace } from '../sandbox/userns.js';
import { findSubordinateRange } from '../sandbox/idmap.js';
import { createSandbox, mountInPod, overlayMount, writableBind } from '../sandbox/sandbox.js';
import { runcPath } from '../container/runc.js';

/**
 * `podbox doctor`: checks this machine for what podbox needs and says how to fix each problem.
 * Required checks fail the command; advisory ones (cgroups, /dev/net/tun) only warn.
 */
interface Check { name: string; required: boolean; run: () => Promise<string> }

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('check this machine for what podbox needs, and say how to fix each problem')
    .action(async () => {
      let failed = false;
      for (const c of checks()) {
        try {
          const detail = await c.run();
          process.stdout.write(`ok    ${c.name}${detail ? `: ${detail}` : ''}\n`);
        } catch (e) {
          const msg = (e as Error).message;
          process.stdout.write(`${c.required ? 'FAIL' : 'warn'}  ${c.name}: ${msg}\n`);
          if (c.required) failed = true;
        }
      }
      if (failed) process.exitCode = 1;
    });
}

function checks(): Check[] {
  const root = process.getuid!() === 0;
  const user = userInfo().username;
  return [
    {
      name: 'user namespaces', required: true,
      run: async () => {
        await runInUserNamespace(['/bin/true']).catch((e) => {
          throw new Error(`${(e as Error).message}; allow them: sudo sysctl -w kernel.unprivileged_userns_clone=1 user.max_user_namespaces=15000`);
        });
        return '';
      },
    },
    {
      name: 'subordinate ids', required: false,
      run: async () => {
        if (root) return 'running as root: identity map 0..65535';
        const read = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8') : '');
        const u = findSubordinateRange(read('/etc/subuid'), user, process.getuid!());
        const g = findSubordinateRange(read('/etc/subgid'), user, process.getgid!());
        if (!u || !g) throw new Error(`${user} has no range in /etc/subuid and /etc/subgid: pods get a single uid; add one: sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${user}`);
        return `uids ${u.start}+${u.count}, gids ${g.start}+${g.count}`;
      },
    },
    {
      name: 'newuidmap/newgidmap', required: false,
      run: async () => {
        if (root) return 'not needed as root';
        for (const f of ['/usr/bin/newuidmap', '/usr/bin/newgidmap']) {
          if (!existsSync(f)) throw new Error(`${f} is missing: sudo apt-get install uidmap`);
          const st = statSync(f);
          if (!(st.mode & 0o4000) && !hasFileCaps(f)) throw new Error(`${f} is neither setuid root nor has file capabilities: reinstall uidmap`);
        }
        return '';
      },
    },
    {
      name: 'runc', required: true,
      run: async () => {
        const p = runcPath();
        return `${p} (${execFileSync(p, ['--version']).toString().split('\n')[0]})`;
      },
    },
    {
      name: 'overlay in a user namespace', required: true,
      run: async () => {
        const d = mkdtempSync(join(tmpdir(), 'podbox-doctor-'));
        const layer = join(d, 'layer');
        const [lower, merged] = [join(d, 'lower'), join(d, 'merged')];
        const [upper, work] = [join(layer, 'upper'), join(layer, 'work')];
        for (const x of [layer, lower, upper, work, merged]) mkdirSync(x);
        const sb = await createSandbox({ hostname: 'doctor', name: 'doctor', podDir: d });
        try {
          mountInPod(sb.pid, 'overlay', [...writableBind(layer), overlayMount(lower, upper, work, merged)]);
          return '';
        } catch (e) {
          throw new Error(`${(e as Error).message}; overlayfs in user namespaces needs Linux 5.11 or later`);
        } finally {
          process.kill(sb.pid, 'SIGTERM');
          await sb.exited;
          rmSync(d, { recursive: true, force: true });
        }
      },
    },
    {
      name: 'cgroup delegation', required: false,
      run: async () => {
        const v2 = '/sys/fs/cgroup/cgroup.controllers';
        if (root) return 'root: runc manages cgroups it can write';
        if (!existsSync(v2)) throw new Error('cgroups are v1 or hybrid here and none is delegated to you: resource limits are not enforced (a systemd user session with cgroup v2 delegates one)');
        try { accessSync('/sys/fs/cgroup', constants.W_OK); } catch { throw new Error('no cgroup is delegated to you: resource limits are not enforced'); }
        return '';
      },
    },
    {
      name: '/dev/net/tun', required: false,
      run: async () => {
        try { accessSync('/dev/net/tun', constants.R_OK | constants.W_OK); } catch {
          throw new Error('not usable by you: outbound networking (slirp4netns/pasta) will not work; sudo chmod 0666 /dev/net/tun (as most distributions ship it)');
        }
        return '';
      },
    },
  ];
}

function hasFileCaps(file: string): boolean {
  try { return execFileSync('getcap', [file]).toString().includes('cap_set'); } catch { return false; }
}
