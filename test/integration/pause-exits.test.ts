import { describe, it, expect, afterEach } from 'vitest';
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { build } from 'esbuild';
import { createSandbox, spawnInPod, waitForExit, waitForAnyExit } from '../../src/sandbox/sandbox.js';
import { readExitRecords } from '../../src/sandbox/exit-records.js';
import { devNullFd, readAll, withPipes } from '../../src/host/pipes.js';
import { startInNewNamespaces } from '../../src/sandbox/namespaces.js';
import { native, nsSpawnPath } from '../../src/sandbox/native.js';
import { until, alive } from '../helpers/cli.js';

// pause as a pod's PID 1: it writes down how each orphan it reaps ended, and it outlives the
// process that created it (pods outlive their supervisor).

// The creator is a Node process of its own: it imports the sandbox module bundled for it (the
// sources are TypeScript; the CLI's bundle does not export it), next to the CLI's in dist/.
const dist = fileURLToPath(new URL('../../dist/test-sandbox.mjs', import.meta.url));
async function bundleSandboxModule(): Promise<void> {
  await build({
    entryPoints: [fileURLToPath(new URL('../../src/sandbox/sandbox.ts', import.meta.url))],
    outfile: dist,
    bundle: true,
    platform: 'node',
    format: 'esm',
    logLevel: 'warning',
  });
}
const dirs: string[] = [];
function podDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'podbox-pause-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Runs `sh -c script` in the pod; resolves with what it printed once it has exited 0. */
async function shInPod(pausePid: number, script: string): Promise<string> {
  const started = withPipes(1, ([w]) =>
    spawnInPod(pausePid, ['/bin/sh', '-c', script], { stdio: [devNullFd(), w!, 2] }),
  );
  const out = readAll(started.readEnds[0]!);
  expect(await waitForExit(started.value)).toEqual({ code: 0, signal: null });
  return out;
}

describe('pause', () => {
  it('appends one line per orphan it reaps to the exits file: "PID exited CODE", "PID killed SIGNO"', async () => {
    const dir = podDir();
    const exits = join(dir, 'exits');
    const sb = await createSandbox({ hostname: 'exits', name: 'exits', podDir: dir, exitsFile: exits });
    try {
      // The outer sh exits at once: the inner one is orphaned to pause, which alone can reap it.
      // $! is its pid in the pod's PID namespace, where pause numbers it too.
      const first = Number(await shInPod(sb.pid, 'sh -c "exit 7" & echo $!'));
      await until('the first line', () => readFileSync(exits, 'utf8').endsWith('\n'));
      const second = Number(await shInPod(sb.pid, 'sh -c "kill -9 \\$\\$" & echo $!'));
      await until('the second line', () => readFileSync(exits, 'utf8').split('\n').length === 3);
      expect(readFileSync(exits, 'utf8')).toBe(`${first} exited 7\n${second} killed 9\n`);
      expect(readExitRecords(exits, 0)).toEqual({
        records: [
          { pid: first, exitCode: 7 },
          { pid: second, exitCode: 137, signal: 9 },
        ],
        offset: readFileSync(exits).length,
      });
    } finally {
      process.kill(sb.pid, 'SIGTERM');
      expect(await sb.exited).toEqual({ code: 0, signal: null });
    }
  });

  it('outlives the process that created its sandbox, and goes when killed, leaving nothing', async () => {
    const dir = podDir();
    await bundleSandboxModule();
    // A creator of its own (the supervisor): it makes the sandbox, says pause's pid, then waits to be killed.
    const script = join(dir, 'creator.mjs');
    writeFileSync(
      script,
      `import { createSandbox } from ${JSON.stringify(dist)};\n` +
        `const sb = await createSandbox({ hostname: 'orphan', name: 'orphan', podDir: ${JSON.stringify(dir)}, ` +
        `exitsFile: ${JSON.stringify(join(dir, 'exits'))} });\n` +
        `process.stdout.write(sb.pid + '\\n');\nsetInterval(() => {}, 1000);\n`,
    );
    const creator = execa(process.execPath, [script], { reject: false });
    let pausePid = 0;
    creator.stdout!.on('data', (d: Buffer) => (pausePid = Number(String(d).trim())));
    try {
      await until('the creator to report pause', () => pausePid > 0);
      creator.kill('SIGKILL');
      expect((await creator).signal).toBe('SIGKILL');
      expect(alive(pausePid)).toBe(true);
      expect(readFileSync(`/proc/${pausePid}/cmdline`, 'utf8').split('\0')).toEqual([
        'pause',
        '-r',
        '3',
        '-e',
        '4',
        '',
      ]);
      // No longer our child: only a pidfd tells us it is gone (its new parent reaps it), and
      // watchExit, which would reap a child, says "exited, how unknown".
      const gone = waitForAnyExit(pausePid);
      const exited = waitForExit(pausePid);
      process.kill(pausePid, 'SIGTERM');
      await gone;
      expect(await exited).toEqual({ code: null, signal: null });
      await until('pause reaped by its new parent', () => !alive(pausePid) && !existsProc(pausePid));
    } finally {
      if (pausePid > 0 && alive(pausePid)) process.kill(pausePid, 'SIGKILL');
      if (creator.exitCode === null) creator.kill('SIGKILL');
    }
    // Of a process that is gone, watchPidExit says so at once (and never calls back).
    expect(native().watchPidExit(pausePid, () => {})).toBe(false);
  });
});

function existsProc(pid: number): boolean {
  try {
    readFileSync(`/proc/${pid}/stat`);
    return true;
  } catch {
    return false;
  }
}

describe('createNamespaces extraFds', () => {
  it('hands the program its extra descriptors at 4, 5, ... in order, and no other', async () => {
    const dir = podDir();
    const [a, b] = [openSync(join(dir, 'a'), 'w'), openSync(join(dir, 'b'), 'w')];
    let started: { value: Promise<number>; readEnds: number[] };
    try {
      started = withPipes(1, ([w]) =>
        startInNewNamespaces({
          argv: ['/bin/sh', '-c', 'cd /proc/self/fd && for f in *; do echo "$f $(readlink $f)"; done'],
          env: [],
          namespaces: ['user'],
          dieWithParent: true,
          extraFds: [b, a],
          stdio: [devNullFd(), w!, devNullFd()],
          what: 'fd lister',
        }),
      );
    } finally {
      closeSync(a);
      closeSync(b);
    }
    const out = readAll(started.readEnds[0]!);
    expect(await waitForExit(await started.value)).toEqual({ code: 0, signal: null });
    // 3 is the directory the shell's glob reads (the status pipe closed at exec).
    const lines = (await out).trim().split('\n');
    expect(lines.filter((l) => !l.startsWith('3 '))).toEqual([
      '0 /dev/null',
      expect.stringMatching(/^1 pipe:/),
      '2 /dev/null',
      `4 ${join(dir, 'b')}`,
      `5 ${join(dir, 'a')}`,
    ]);
  });
});

describe('spawnInNamespaces (through ns-spawn)', () => {
  it("starts the program in the pod's user, mount and PID namespaces, as this process's child, with only its stdio", async () => {
    expect(existsSync(nsSpawnPath)).toBe(true); // built beside the addon, which execs it
    const dir = podDir();
    const sb = await createSandbox({ hostname: 'spawn', name: 'spawn', podDir: dir, exitsFile: join(dir, 'exits') });
    try {
      const script =
        'cd /proc/self/fd && for f in *; do echo "$f $(readlink $f)"; done; ' +
        'readlink /proc/self/ns/user /proc/self/ns/mnt /proc/self/ns/pid';
      const started = withPipes(1, ([w]) =>
        spawnInPod(sb.pid, ['/bin/sh', '-c', script], { stdio: [devNullFd(), w!, devNullFd()] }),
      );
      // This process's child (ns-spawn clones it as its parent's), waited for like any other.
      const ppid = Number(readFileSync(`/proc/${started.value}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
      expect(ppid).toBe(process.pid);
      const out = readAll(started.readEnds[0]!);
      expect(await waitForExit(started.value)).toEqual({ code: 0, signal: null });
      // 3 is the directory the shell's glob reads: no namespace descriptor, no status pipe.
      const lines = (await out).trim().split('\n');
      const ns = (name: string) => readlinkSync(`/proc/${sb.pid}/ns/${name}`);
      expect(lines.filter((l) => !l.startsWith('3 '))).toEqual([
        '0 /dev/null',
        expect.stringMatching(/^1 pipe:/),
        '2 /dev/null',
        ns('user'),
        ns('mnt'),
        ns('pid'),
      ]);
      // A program that is not there: the step that failed, from inside.
      expect(() => spawnInPod(sb.pid, ['/no/such/program'])).toThrow(/^exec: No such file or directory$/);
    } finally {
      process.kill(sb.pid, 'SIGTERM');
      expect(await sb.exited).toEqual({ code: 0, signal: null });
    }
  });
});
