import { describe, expect, it } from 'vitest';
import { imageRemovalRefusal } from '../../src/pod/image-users.js';

describe('imageRemovalRefusal: an image a pod uses is not deleted from under it', () => {
  const line = (users: { pod: string; running: boolean }[], force: boolean) =>
    imageRemovalRefusal('app:1', users, force)?.toLine();

  it('allows an image no pod uses', () => {
    expect(line([], false)).toBeUndefined();
    expect(line([], true)).toBeUndefined();
  });

  it('refuses for running pods even with --force, naming them', () => {
    const users = [
      { pod: 'web', running: true },
      { pod: 'db', running: false },
    ];
    expect(line(users, false)).toBe(
      'image app:1 is in use by pod(s) web, db: ' +
        'delete them first with `podbox delete web db` (--force does not remove an image a running pod uses)',
    );
    expect(line(users, true)).toBe(
      'image app:1 is in use by pod(s) web: ' +
        'delete it first with `podbox delete web` (--force does not remove an image a running pod uses)',
    );
  });

  it('refuses for kept finished pods unless --force', () => {
    expect(line([{ pod: 'job', running: false }], false)).toBe(
      'image app:1 is in use by pod(s) job: ' + 'delete it first with `podbox delete job`, or use --force',
    );
    expect(line([{ pod: 'job', running: false }], true)).toBeUndefined();
  });
});
