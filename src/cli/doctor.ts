import type { Command } from 'commander';
import { existsSync, statSync, mkdtempSync, mkdirSync, rmSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir, userInfo } from 'node:os';
import { execFileSync } from 'node:child_process';
import { runInUserNamespace } from '../sandbox/userns.js';
import { findSubordinateRange, addSubordinateRangeCommand } from '../sandbox/idmap.js';
import { createSandbox, mountInPod, overlayMount, writableBind } from '../sandbox/sandbox.js';
import { runcPath } from '../container/runc.js';
import { stateDirs, ensureStateDir } from '../paths.js';
import { isPodboxError } from '../errors.js';
import { delegationHint, findCgroupPlace } from '../cgroup/where.js';
import { lingerFile, logoutWarning, SYSTEMD_MARKER } from '../host/runtime-dir.js';
import { tunProblem, TUN_HINT } from '../sandbox/network.js';
import { apparmorUsernsHint, apparmorUsernsProblem } from '../host/apparmor.js';

/**
 * `podbox doctor`: checks this machine for what podbox needs and says how to fix each problem.
 * Required checks fail the command; advisory ones (cgroups, /dev/net/tun) only warn.
 */
interface Check {
  name: string;
  required: boolean;
  run: () => Promise<string>;
}

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
          const msg = isPodboxError(e) ? e.toLine() : (e as Error).message;
          process.stdout.write(`${c.required ? 'FAIL' : 'warn'}  ${c.name}: ${msg}\n`);
          if (c.required) failed = true;
        }
      }
      if (failed) process.exitCode = 1;
    });
}

/** The checks, in the order they are printed; each is one function below. */
function checks(): Check[] {
  return [
    { name: 'user namespaces', required: true, run: userNamespaces },
    { name: 'AppArmor and user namespaces', required: true, run: apparmorUserns },
    { name: 'subordinate ids', required: false, run: subordinateIds },
    { name: 'newuidmap/newgidmap', required: false, run: idMapHelpers },
    { name: 'runc', required: true, run: runc },
    { name: 'overlay in a user namespace', required: true, run: overlayInUserNamespace },
    { name: 'cgroup delegation', required: false, run: cgroupDelegation },
    { name: 'state directories', required: true, run: stateDirectories },
    { name: 'pods across logout', required: false, run: podsAcrossLogout },
    { name: '/dev/net/tun', required: false, run: tunDevice },
  ];
}

const isRoot = () => process.getuid!() === 0;

async function userNamespaces(): Promise<string> {
  await runInUserNamespace(['/bin/true']).catch((e) => {
    throw new Error(
      `${(e as Error).message}; allow them: sudo sysctl -w kernel.unprivileged_userns_clone=1 user.max_user_namespaces=15000`,
    );
  });
  return '';
}

/** Ubuntu's restriction (host/apparmor.ts): creating one works, but nothing can be done in it. */
async function apparmorUserns(): Promise<string> {
  const problem = apparmorUsernsProblem(process.getuid!());
  if (problem) throw new Error(`${problem}: ${apparmorUsernsHint(process.execPath)}`);
  return '';
}

async function subordinateIds(): Promise<string> {
  if (isRoot()) return 'running as root: identity map 0..65535';
  const user = userInfo().username;
  const read = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8') : '');
  const subuid = read('/etc/subuid'),
    subgid = read('/etc/subgid');
  const u = findSubordinateRange(subuid, user, process.getuid!());
  const g = findSubordinateRange(subgid, user, process.getgid!());
  if (!u || !g) {
    const add = addSubordinateRangeCommand(user, subuid, subgid);
    throw new Error(`${user} has no range in /etc/subuid and /etc/subgid: pods get a single uid; add one: ${add}`);
  }
  return `uids ${u.start}+${u.count}, gids ${g.start}+${g.count}`;
}

async function idMapHelpers(): Promise<string> {
  if (isRoot()) return 'not needed as root';
  for (const f of ['/usr/bin/newuidmap', '/usr/bin/newgidmap']) {
    if (!existsSync(f)) throw new Error(`${f} is missing: sudo apt-get install uidmap`);
    const st = statSync(f);
    if (!(st.mode & 0o4000) && !hasFileCaps(f))
      throw new Error(`${f} is neither setuid root nor has file capabilities: reinstall uidmap`);
  }
  return '';
}

async function runc(): Promise<string> {
  const p = runcPath();
  return `${p} (${execFileSync(p, ['--version']).toString().split('\n')[0]})`;
}

async function overlayInUserNamespace(): Promise<string> {
  const d = mkdtempSync(join(tmpdir(), 'podbox-doctor-'));
  try {
    const layer = join(d, 'layer');
    const [lower, merged] = [join(d, 'lower'), join(d, 'merged')];
    const [upper, work] = [join(layer, 'upper'), join(layer, 'work')];
    for (const x of [layer, lower, upper, work, merged]) mkdirSync(x);
    const sb = await createSandbox({
      hostname: 'doctor',
      name: 'doctor',
      podDir: d,
      exitsFile: join(d, 'exits'),
      dieWithParent: true,
    });
    try {
      mountInPod(sb.pid, 'overlay', [...writableBind(layer), overlayMount(lower, upper, work, merged)]);
      return '';
    } catch (e) {
      throw new Error(`${(e as Error).message}; overlayfs in user namespaces needs Linux 5.11 or later`);
    } finally {
      process.kill(sb.pid, 'SIGTERM');
      await sb.exited;
    }
  } finally {
    // Also when the sandbox could not be made: doctor leaves nothing behind.
    rmSync(d, { recursive: true, force: true });
  }
}

async function cgroupDelegation(): Promise<string> {
  const where = findCgroupPlace(process.env);
  if ('place' in where) return `limits are enforced: pods' cgroups go under ${where.place.found}`;
  throw new Error(`${where.why}: resource limits are not enforced; ${delegationHint()}`);
}

async function stateDirectories(): Promise<string> {
  return `pods in ${ensureStateDir('pods')}, images in ${ensureStateDir('images')}`;
}

async function podsAcrossLogout(): Promise<string> {
  const user = userInfo().username;
  const pods = stateDirs().pods;
  const lingering = existsSync(lingerFile(user));
  const warning = logoutWarning({ systemd: existsSync(SYSTEMD_MARKER), lingering }, pods, process.getuid!(), user);
  if (warning) throw new Error(warning);
  return lingering ? `${user} lingers: /run/user/${process.getuid!()} outlives a logout` : `pod state in ${pods}`;
}

/** What `run --network=pasta|slirp4netns` needs (sandbox/network.ts tunProblem); none works without it. */
async function tunDevice(): Promise<string> {
  const problem = tunProblem();
  if (problem) throw new Error(`${problem}: pods with pasta or slirp4netns will not start; ${TUN_HINT}`);
  return '';
}

function hasFileCaps(file: string): boolean {
  try {
    return execFileSync('getcap', [file]).toString().includes('cap_set');
  } catch {
    return false;
  }
}
