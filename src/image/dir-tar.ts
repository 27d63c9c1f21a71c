import { createReadStream, lstatSync, readdirSync, readlinkSync, type Stats } from 'node:fs';
import { PodboxError } from '../errors.js';

/**
 * A directory as an uncompressed pax tar stream, for `podbox image import DIR`: the layer a
 * `tar -C DIR -c .` would make, with numeric owners as this process sees them (run inside the
 * pod's user namespace, the invoking user's files are owned by 0). Names are sorted, hardlinks
 * kept, fifos and device nodes written as such; sockets are left out, as GNU tar does.
 * (node-tar's Pack is not used: it never finishes on a fifo.)
 */

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const len = Buffer.byteLength(body);
  let total = len + String(len).length;
  if (String(total).length !== String(len).length) total = len + String(total).length;
  return `${total}${body}`;
}

interface Header {
  path: string;
  type: string;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  linkpath?: string;
  devmajor?: number;
  devminor?: number;
}

const MAX_OCTAL_8 = 0o7777777;
const MAX_OCTAL_12 = 0o77777777777;

function block(h: Header): Buffer {
  const b = Buffer.alloc(512);
  const name = Buffer.from(h.path);
  name.copy(b, 0, 0, Math.min(100, name.length));
  b.write(octal(h.mode & 0o7777, 8), 100, 8, 'latin1');
  b.write(octal(Math.min(h.uid, MAX_OCTAL_8), 8), 108, 8, 'latin1');
  b.write(octal(Math.min(h.gid, MAX_OCTAL_8), 8), 116, 8, 'latin1');
  b.write(octal(Math.min(h.size, MAX_OCTAL_12), 12), 124, 12, 'latin1');
  b.write(octal(Math.max(0, Math.min(h.mtime, MAX_OCTAL_12)), 12), 136, 12, 'latin1');
  b.write('        ', 148, 8, 'latin1');
  b.write(h.type, 156, 1, 'latin1');
  if (h.linkpath) {
    const l = Buffer.from(h.linkpath);
    l.copy(b, 157, 0, Math.min(100, l.length));
  }
  b.write('ustar\0', 257, 6, 'latin1');
  b.write('00', 263, 2, 'latin1');
  b.write(octal(h.devmajor ?? 0, 8), 329, 8, 'latin1');
  b.write(octal(h.devminor ?? 0, 8), 337, 8, 'latin1');
  let sum = 0;
  for (const byte of b) sum += byte;
  b.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  return b;
}

const pad = (n: number) => Buffer.alloc((512 - (n % 512)) % 512);

/** The header blocks of one entry: a pax header first when a field does not fit ustar. */
export function headerBlocks(h: Header): Buffer[] {
  let pax = '';
  if (Buffer.byteLength(h.path) > 100) pax += paxRecord('path', h.path);
  if (h.linkpath && Buffer.byteLength(h.linkpath) > 100) pax += paxRecord('linkpath', h.linkpath);
  if (h.uid > MAX_OCTAL_8) pax += paxRecord('uid', String(h.uid));
  if (h.gid > MAX_OCTAL_8) pax += paxRecord('gid', String(h.gid));
  if (h.size > MAX_OCTAL_12) pax += paxRecord('size', String(h.size));
  if (!pax) return [block(h)];
  const body = Buffer.from(pax);
  return [
    block({ path: 'PaxHeader', type: 'x', size: body.length, mode: 0o644, uid: 0, gid: 0, mtime: h.mtime }),
    body,
    pad(body.length),
    block(h),
  ];
}

function typeOf(st: Stats): string | undefined {
  if (st.isFile()) return '0';
  if (st.isDirectory()) return '5';
  if (st.isSymbolicLink()) return '2';
  if (st.isFIFO()) return '6';
  if (st.isCharacterDevice()) return '3';
  if (st.isBlockDevice()) return '4';
  return undefined; // socket
}

export async function* tarDirectory(dir: string): AsyncGenerator<Buffer> {
  const links = new Map<string, string>();
  async function* entry(abs: string, rel: string): AsyncGenerator<Buffer> {
    const st = lstatSync(abs);
    const type = typeOf(st);
    if (!type) return;
    const h: Header = {
      path: rel,
      type,
      size: 0,
      mode: st.mode,
      uid: st.uid,
      gid: st.gid,
      mtime: Math.floor(st.mtimeMs / 1000),
    };
    // The mode of the directory itself is about where it sits on the host (mktemp -d makes it
    // 0700); as the image's `/` it must let every user of a container in.
    if (rel === './') h.mode = 0o755;
    if (type === '2') h.linkpath = readlinkSync(abs);
    if (type === '3' || type === '4') {
      h.devmajor = Math.floor(st.rdev / 256) & 0xfff;
      h.devminor = (st.rdev & 0xff) | ((Math.floor(st.rdev / 1048576) & 0xfff) << 8);
    }
    if (type === '0' && st.nlink > 1) {
      const key = `${st.dev}:${st.ino}`;
      const first = links.get(key);
      if (first !== undefined) {
        yield* headerBlocks({ ...h, type: '1', linkpath: first });
        return;
      }
      links.set(key, rel);
    }
    if (type === '0') h.size = st.size;
    yield* headerBlocks(h);
    if (type === '0') {
      let n = 0;
      for await (const chunk of createReadStream(abs, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
        const take = Math.min(chunk.length, h.size - n);
        if (take > 0) yield take === chunk.length ? chunk : chunk.subarray(0, take);
        n += take;
        if (n >= h.size) break;
      }
      if (n !== h.size) {
        throw new PodboxError(
          'InvalidArgument',
          `${abs} changed while it was being imported`,
          'import a directory nothing else is writing to',
        );
      }
      yield pad(h.size);
    }
    if (type === '5') {
      for (const name of readdirSync(abs).sort())
        yield* entry(`${abs}/${name}`, `${rel}${name}${lstatSync(`${abs}/${name}`).isDirectory() ? '/' : ''}`);
    }
  }
  yield* entry(dir, './');
  yield Buffer.alloc(1024);
}
