import { describe, it, expect, afterAll } from 'vitest';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { podRootEntries } from '../../src/sandbox/pod-root.js';

describe("the pod's root shows only what runc and the pod need", () => {
  const home = mkdtempSync(join(tmpdir(), 'podbox-podroot-'));
  afterAll(() => rmSync(home, { recursive: true, force: true }));
  const podDir = join(home, 'pods', 'web');
  const entries = podRootEntries({ podDir, imageStore: join(home, 'images'), runc: '/opt/runc/runc' });
  const writable = entries.filter((e) => e.kind === 'rw').map((e) => e.path);

  it('writable: only the standard devices and what the pod writes in its own directory', () => {
    const devices = ['/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom', '/dev/tty'].filter((d) =>
      existsSync(d),
    );
    expect(writable).toEqual([...devices, join(podDir, 'runc'), join(podDir, 'runc-logs'), join(podDir, 'etc')]);
  });

  it("the pod directory read-only, after the system; a runc outside /usr on its own; nothing of the user's", () => {
    const readOnly = entries.filter((e) => e.kind === 'ro').map((e) => e.path);
    expect(readOnly).toContain('/usr');
    expect(readOnly).toContain('/sys');
    expect(readOnly).not.toContain('/etc'); // only its ld.so.cache
    expect(readOnly).toContain('/etc/ld.so.cache');
    expect(readOnly).toContain('/opt/runc/runc');
    expect(readOnly).not.toContain(join(home, 'images')); // not created: nothing to bind
    expect(readOnly.at(-1)).toBe(podDir);
    for (const e of entries)
      expect(['/home', '/root', '/run', '/tmp', '/var', '/opt', home].includes(e.path)).toBe(false);
  });
});
