import { describe, it, expect } from 'vitest';
import { RunSignals } from '../../src/lifecycle/run-signals.js';

describe("a foreground run's signals", () => {
  it('a signal before there is anything to delete is kept; later ones act, a second Ctrl-C without grace', () => {
    const before = process.listenerCount('SIGINT');
    const s = new RunSignals();
    const asked: (number | undefined)[] = [];
    try {
      process.emit('SIGINT', 'SIGINT');
      expect(s.exit).toBe(130);
      s.act = (grace) => asked.push(grace);
      process.emit('SIGTERM', 'SIGTERM');
      expect(s.exit).toBe(130);
      process.emit('SIGINT', 'SIGINT');
      expect(asked).toEqual([undefined, 0]);
      expect(s.grace).toBe(0);
    } finally {
      s.stop();
    }
    expect(process.listenerCount('SIGINT')).toBe(before);
  });

  it('SIGTERM first: the run exits 143', () => {
    const s = new RunSignals();
    try {
      process.emit('SIGTERM', 'SIGTERM');
      expect(s.exit).toBe(143);
      expect(s.grace).toBe(undefined);
    } finally {
      s.stop();
    }
  });

  it('SIGHUP (the terminal closed) first: the run exits 129 and deletes with the grace period', () => {
    const s = new RunSignals();
    const asked: (number | undefined)[] = [];
    s.act = (grace) => asked.push(grace);
    try {
      process.emit('SIGHUP', 'SIGHUP');
      expect(s.exit).toBe(129);
      expect(asked).toEqual([undefined]);
    } finally {
      s.stop();
    }
  });
});
