import { describe, expect, it } from 'vitest';
import { logoutWarning, lingerFile } from '../../src/host/runtime-dir.js';

describe('logoutWarning: doctor says when a logout would take pod state away', () => {
  const systemd = { systemd: true, lingering: false };

  it('warns on systemd when pods live in /run/user/UID and the user does not linger', () => {
    expect(logoutWarning(systemd, '/run/user/1001/podbox', 1001, 'pbtest')).toBe(
      'pods keep their state in /run/user/1001, which systemd removes when you log out (pods then lose it); ' +
        'to keep pods across logouts: loginctl enable-linger pbtest',
    );
  });

  it('is quiet when the user lingers, pods live elsewhere, or systemd does not run the machine', () => {
    expect(logoutWarning({ systemd: true, lingering: true }, '/run/user/1001/podbox', 1001, 'pbtest')).toBeUndefined();
    expect(logoutWarning(systemd, '/tmp/podbox-1001/podbox', 1001, 'pbtest')).toBeUndefined();
    expect(logoutWarning(systemd, '/home/pbtest/pb/pods', 1001, 'pbtest')).toBeUndefined();
    expect(logoutWarning(systemd, '/run/user/10010/podbox', 1001, 'pbtest')).toBeUndefined();
    const noSystemd = { systemd: false, lingering: false };
    expect(logoutWarning(noSystemd, '/run/user/1001/podbox', 1001, 'pbtest')).toBeUndefined();
  });

  it('reads lingering where logind records it', () => {
    expect(lingerFile('pbtest')).toBe('/var/lib/systemd/linger/pbtest');
  });
});
