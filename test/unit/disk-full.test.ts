import { describe, expect, it } from 'vitest';
import { PodboxError } from '../../src/errors.js';
import { diskFullError } from '../../src/image/disk-full.js';

const sysError = (code: string) => Object.assign(new Error(`${code}: something, write`), { code });

describe('diskFullError: a pull that runs out of room, in one line', () => {
  it('names the image, the directory and the way out, for a full disk, a quota and ulimit -f', () => {
    const line = (e: unknown) => diskFullError('reg:5000/app:1', '/h/images', e)?.toLine();
    const free = 'free some space (`podbox image prune` removes images and layers nothing uses) and pull again';
    expect(line(sysError('ENOSPC'))).toBe(
      `cannot pull reg:5000/app:1: no space left on the device (writing to /h/images): ${free}`,
    );
    expect(line(sysError('EDQUOT'))).toBe(
      `cannot pull reg:5000/app:1: the disk quota is used up (writing to /h/images): ${free}`,
    );
    expect(line(sysError('EFBIG'))).toBe(
      'cannot pull reg:5000/app:1: a file reached the file size limit (ulimit -f) (writing to /h/images): ' +
        'raise the limit (`ulimit -f unlimited`) and pull again',
    );
  });

  it("reads the unpack worker's report of a system error, and nothing else", () => {
    const worker = new PodboxError('HostNotReady', 'cannot unpack the image: ENOSPC: no space left on device, write');
    expect(diskFullError('app', '/h', worker)?.message).toBe(
      'cannot pull app: no space left on the device (writing to /h)',
    );
    expect(diskFullError('app', '/h', sysError('ECONNRESET'))).toBeUndefined();
    expect(
      diskFullError('app', '/h', new PodboxError('InvalidImage', 'layer says ENOSPC: in a file name')),
    ).toBeUndefined();
  });
});
