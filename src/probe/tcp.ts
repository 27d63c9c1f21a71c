import { connect } from './dial.js';
import { errorText } from './text.js';
import type { HandlerResult, HandlerTarget } from './types.js';

/** pkg/probe/tcp/tcp.go: success is a connection made within the timeout; it is closed at once. */
export async function tcpProbe(
  host: string,
  port: number,
  t: HandlerTarget,
  timeoutMs: number,
): Promise<HandlerResult> {
  try {
    const s = await connect(t, host, port, Date.now() + timeoutMs);
    s.destroy();
    return { ok: true, message: '' };
  } catch (e) {
    return { ok: false, message: errorText(e) };
  }
}
