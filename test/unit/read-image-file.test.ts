import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readImageFile } from '../../src/container/bundle.js';

// A layer may hold any symlink: the supervisor reads etc/passwd of an image by path, on the host.
describe('readImageFile reads only files of the image', () => {
  const dir = mkdtempSync(join(tmpdir(), 'podbox-readimage-'));
  const outside = join(dir, 'outside');
  mkdirSync(outside);
  writeFileSync(join(outside, 'passwd'), 'user:x:1:1::/home/user:/bin/sh\n');
  const rootfs = (name: string) => {
    const r = join(dir, name);
    mkdirSync(r);
    return r;
  };
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a plain file', () => {
    const r = rootfs('plain');
    mkdirSync(join(r, 'etc'));
    writeFileSync(join(r, 'etc', 'passwd'), 'root:x:0:0::/root:/bin/sh\n');
    expect(readImageFile(r, 'etc/passwd')).toBe('root:x:0:0::/root:/bin/sh\n');
  });

  it('does not follow a symlinked directory out of the rootfs', () => {
    const r = rootfs('dirlink');
    symlinkSync(outside, join(r, 'etc'));
    expect(readImageFile(r, 'etc/passwd')).toBe('');
  });

  it('does not follow a symlinked file, nor `..`', () => {
    const r = rootfs('filelink');
    mkdirSync(join(r, 'etc'));
    symlinkSync(join(outside, 'passwd'), join(r, 'etc', 'passwd'));
    expect(readImageFile(r, 'etc/passwd')).toBe('');
    expect(readImageFile(r, '../outside/passwd')).toBe('');
  });
});
