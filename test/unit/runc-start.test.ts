import { describe, it, expect, afterAll } from 'vitest';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  writeSync,
  constants,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Runc } from '../../src/container/runc.js';
import { native } from '../../src/sandbox/native.js';

// Runc.startCreated releases a created container as `runc start` does, by reading its exec.fifo
// (real FIFOs here; runc itself is exercised by every networked pod of the integration tests).
describe('starting a created container through its exec.fifo', () => {
  const home = mkdtempSync(join(tmpdir(), 'podbox-runc-start-'));
  afterAll(() => rmSync(home, { recursive: true, force: true }));
  // No pod: a `runc start` fallback cannot spawn runc in pid 2^22's namespaces, and says so by throwing.
  const runc = new Runc(4_194_304, join(home, 'runc'));
  const fifoOf = (id: string) => {
    mkdirSync(join(home, 'runc', id), { recursive: true });
    return join(home, 'runc', id, 'exec.fifo');
  };

  it("reads runc init's byte and removes the FIFO, so runc reports the container running", async () => {
    const fifo = fifoOf('web.0');
    native().mkfifo(fifo, 0o622);
    // runc init's side: a writer already there (O_RDWR never blocks), the byte written.
    const init = openSync(fifo, constants.O_RDWR);
    writeSync(init, '0');
    await runc.startCreated('web.0');
    closeSync(init);
    expect(existsSync(fifo)).toBe(false);
  });

  it('waits for a runc init that has not written yet, and says it dead if it goes away without writing', async () => {
    const late = fifoOf('late.0');
    native().mkfifo(late, 0o622);
    const writer = openSync(late, constants.O_RDWR);
    setTimeout(() => writeSync(writer, '0'), 30);
    await runc.startCreated('late.0');
    closeSync(writer);
    expect(existsSync(late)).toBe(false);

    const dies = fifoOf('dies.0');
    native().mkfifo(dies, 0o622);
    const dying = openSync(dies, constants.O_RDWR);
    setTimeout(() => closeSync(dying), 30);
    await expect(runc.startCreated('dies.0')).rejects.toThrow('container process is already dead');
  });

  it('a FIFO with no runc init behind it: the container process is said dead, and the FIFO stays', async () => {
    const fifo = fifoOf('gone.0');
    native().mkfifo(fifo, 0o622);
    await expect(runc.startCreated('gone.0')).rejects.toThrow('runc start: container process is already dead');
    expect(existsSync(fifo)).toBe(true);
  });

  it("hostile: exec.fifo swapped for a symlink to another FIFO is not followed (runc start's own path instead)", async () => {
    const other = join(home, 'users-fifo');
    native().mkfifo(other, 0o600);
    const keeper = openSync(other, constants.O_RDWR);
    writeSync(keeper, 'x');
    symlinkSync(other, fifoOf('link.0'));
    await expect(runc.startCreated('link.0')).rejects.toThrow();
    // The other FIFO's byte is still there: nothing read it.
    const buf = Buffer.alloc(1);
    expect(readSync(keeper, buf)).toBe(1);
    expect(buf.toString()).toBe('x');
    closeSync(keeper);
  });

  it('hostile: exec.fifo swapped for a regular file is neither read nor removed', async () => {
    const file = fifoOf('file.0');
    writeFileSync(file, '0');
    await expect(runc.startCreated('file.0')).rejects.toThrow();
    expect(existsSync(file)).toBe(true);
  });
});
