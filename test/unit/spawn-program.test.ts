import { describe, it, expect } from 'vitest';
import { onPath, runProgram } from '../../src/host/spawn-program.js';

// Real programs, started by the addon's posix_spawn (host/spawn-program.ts).
describe('host programs started by posix_spawn', () => {
  it('gives the exit code and what the program said on stderr', async () => {
    expect(await runProgram(['sh', '-c', 'echo to-stdout; echo oops >&2; exit 3'])).toEqual({
      code: 3,
      signal: null,
      stderr: 'oops\n',
    });
  });

  it('a program that is not there: ENOENT, as child_process says it', async () => {
    await expect(runProgram(['podbox-no-such-program'])).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(runProgram(['x'], { path: '/nonexistent/x' })).rejects.toMatchObject({ code: 'ENOENT' });
    expect(onPath('podbox-no-such-program')).toBeUndefined();
    expect(onPath('sh')).toMatch(/\/sh$/);
  });

  it('argv[0] is the name given, whatever the path (pasta.avx2 runs as pasta)', async () => {
    const sh = onPath('sh')!;
    expect((await runProgram(['my-name', '-c', 'echo "$0" >&2'], { path: sh })).stderr).toBe('my-name\n');
  });

  it("the child has only stdio: none of this process's descriptors, every signal at its default", async () => {
    // ls lists its own descriptor on /proc/self/fd too (3): nothing else is open.
    const fds = await runProgram(['sh', '-c', 'ls /proc/self/fd >&2']);
    expect(fds.stderr.split('\n').filter(Boolean).map(Number).sort()).toEqual([0, 1, 2, 3]);
    // Node ignores SIGPIPE; a program it starts must not, nor any other standard signal (1 to 31; the
    // C library's own real-time signals are not the program's business), and it blocks none.
    const status = (await runProgram(['sh', '-c', 'grep -E "^Sig(Ign|Blk)" /proc/self/status >&2'])).stderr;
    const mask = (name: string) => BigInt(`0x${new RegExp(`^${name}:\\s*([0-9a-f]+)$`, 'm').exec(status)![1]}`);
    expect(mask('SigIgn') & 0x7fffffffn).toBe(0n);
    expect(mask('SigBlk')).toBe(0n);
  });

  it('is killed after timeoutMs', async () => {
    expect(await runProgram(['sleep', '30'], { timeoutMs: 50 })).toEqual({ code: null, signal: 9, stderr: '' });
  });
});
