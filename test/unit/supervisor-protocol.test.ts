import { describe, it, expect } from 'vitest';
import { PassThrough } from 'node:stream';
import type { Socket } from 'node:net';
import { readMessages } from '../../src/lifecycle/supervisor-protocol.js';

describe("the supervisor's wire format: one JSON object a line", () => {
  it('joins a message split across reads and splits several in one read', () => {
    const s = new PassThrough();
    const got: unknown[] = [];
    readMessages(s as unknown as Socket, (m) => got.push(m));
    s.write('{"type":"echo","container":"a","stream":"stdout","text":"é ');
    s.write(Buffer.from('x"}\n{"type":"finished","exitCode":7}\n\n{"type":'));
    s.write('"deleted"}\n');
    expect(got).toEqual([
      { type: 'echo', container: 'a', stream: 'stdout', text: 'é x' },
      { type: 'finished', exitCode: 7 },
      { type: 'deleted' },
    ]);
  });

  it('a line that is not JSON ends the connection, nothing after it is taken', () => {
    const s = new PassThrough();
    const got: unknown[] = [];
    let destroyed = false;
    (s as unknown as { destroy: () => void }).destroy = () => (destroyed = true);
    readMessages(s as unknown as Socket, (m) => got.push(m));
    s.write('{"type":"created"}\nnot json\n{"type":"deleted"}\n');
    expect(got).toEqual([{ type: 'created' }]);
    expect(destroyed).toBe(true);
  });
});
