import { describe, it, expect, afterEach } from 'vitest';
import { closeSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { native } from '../../src/sandbox/native.js';
import { until } from '../helpers/cli.js';

// The addon's lockFile (flock, held while its fd is open) and mkfifo, on the real kernel.

const addon = fileURLToPath(new URL('../../build/Release/podbox_native.node', import.meta.url));
let dir = '';
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('lockFile', () => {
  it('is -1 while another process holds the lock, and can be taken once the holder died', async () => {
    dir = mkdtempSync(join(tmpdir(), 'podbox-lock-'));
    const file = join(dir, 'lock');
    // The holder takes the lock, says so, and keeps it until it is killed.
    const holder = execa(
      process.execPath,
      [
        '-e',
        `const fd = require(${JSON.stringify(addon)}).lockFile(${JSON.stringify(file)});` +
          `process.stdout.write(fd + '\\n'); setInterval(() => {}, 1000);`,
      ],
      { reject: false },
    );
    let said = '';
    holder.stdout!.on('data', (d: Buffer) => (said += String(d)));
    try {
      await until('the holder to lock', () => said.endsWith('\n'));
      expect(Number(said)).toBeGreaterThan(2);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(native().lockFile(file)).toBe(-1);
    } finally {
      holder.kill('SIGKILL');
    }
    expect((await holder).signal).toBe('SIGKILL');
    const fd = native().lockFile(file);
    expect(fd).toBeGreaterThan(2);
    closeSync(fd);
  });

  it('throws naming the file when it cannot be opened', () => {
    dir = mkdtempSync(join(tmpdir(), 'podbox-lock-'));
    const file = join(dir, 'missing', 'lock');
    expect(() => native().lockFile(file)).toThrow(`open lock file ${file}: No such file or directory`);
  });
});

describe('mkfifo', () => {
  it('makes a named pipe with the mode asked for, and refuses an existing path with EEXIST', () => {
    dir = mkdtempSync(join(tmpdir(), 'podbox-fifo-'));
    const file = join(dir, 'fifo');
    native().mkfifo(file, 0o600);
    const st = statSync(file);
    expect(st.isFIFO()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
    let err: (Error & { code?: string }) | undefined;
    try {
      native().mkfifo(file, 0o600);
    } catch (e) {
      err = e as Error & { code?: string };
    }
    expect(err?.message).toBe(`mkfifo ${file}: File exists`);
    expect(err?.code).toBe('EEXIST');
  });
});
