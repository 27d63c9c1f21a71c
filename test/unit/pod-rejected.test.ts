import { describe, it, expect } from 'vitest';
import { tableRow } from '../../src/cli/get.js';
import { nodePortsRejection } from '../../src/lifecycle/admission.js';
import { PodMachine } from '../../src/lifecycle/pod-machine.js';
import { KUBELET_BACKOFF } from '../../src/lifecycle/timing.js';
import { container, pod, FakeClock } from '../helpers/fixtures.js';

describe('a pod rejected at admission (kubelet.go rejectPod)', () => {
  it('is Failed with the predicate as reason, a Warning event, no container, and ends at once', () => {
    const clock = new FakeClock();
    const m = new PodMachine(pod({ initContainers: [container('init')] }), clock, KUBELET_BACKOFF);
    const r = nodePortsRejection('host port 8080/TCP is published by pod "web"', 'choose another hostPort');
    m.rejected(r.reason, r.predicateMessage);
    const message = "Predicate NodePorts failed: node(s) didn't have free ports for the requested pod ports";
    expect(r.message).toBe(`Pod was rejected: ${message} (host port 8080/TCP is published by pod "web")`);
    const s = m.status();
    expect([s.phase, s.reason, s.message]).toEqual(['Failed', 'NodePorts', `Pod was rejected: ${message}`]);
    expect(s.containerStatuses).toEqual([]);
    expect(s.initContainerStatuses).toBeUndefined();
    expect(m.eventLog().map((e) => [e.type, e.reason, e.message])).toContainEqual(['Warning', 'NodePorts', message]);
    expect(m.actions()).toEqual([{ type: 'teardown' }]);
    expect(m.exitCode()).toBe(1);
    expect(tableRow(m.status(), new Date(clock.t).toISOString(), clock.t, false).status).toBe('NodePorts');
  });
});
