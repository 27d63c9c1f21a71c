import { describe, it, expect } from 'vitest';
import { apparmorUsernsHint, apparmorUsernsProblem } from '../../src/host/apparmor.js';

describe("doctor: Ubuntu's AppArmor restriction of unprivileged user namespaces", () => {
  it('is a problem only for a non-root user when the sysctl reads 1', () => {
    const problem =
      'AppArmor restricts unprivileged user namespaces here (kernel.apparmor_restrict_unprivileged_userns=1, ' +
      'Ubuntu 23.10 and later)';
    expect(apparmorUsernsProblem(1000, () => '1\n')).toBe(problem);
    expect(apparmorUsernsProblem(1000, () => '0\n')).toBeUndefined();
    expect(apparmorUsernsProblem(0, () => '1\n')).toBeUndefined();
    expect(
      apparmorUsernsProblem(1000, () => {
        throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
      }),
    ).toBeUndefined();
  });

  it('says how to allow them: the sysctl, or a profile for node alone', () => {
    const hint = apparmorUsernsHint('/usr/bin/node');
    expect(hint).toContain('`sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`');
    expect(hint).toContain('an AppArmor profile that grants `userns,` to /usr/bin/node');
  });
});
