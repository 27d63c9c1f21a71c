import { describe, it, expect } from 'vitest';
import { parseAddresses, parsePorts } from '../../src/sandbox/port-forward.js';
import { container, pod } from '../helpers/fixtures.js';

const web = pod({
  containers: [container('app', { ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }] })],
});

describe("port-forward's arguments, as kubectl and client-go read them", () => {
  it('LOCAL:REMOTE, PORT, :REMOTE (random local port) and a named container port', () => {
    expect(parsePorts(['8080:80', '9090', ':81', 'http', '7000:http'], web)).toEqual([
      { local: 8080, remote: 80 },
      { local: 9090, remote: 9090 },
      { local: 0, remote: 81 },
      { local: 8080, remote: 8080 },
      { local: 7000, remote: 8080 },
    ]);
  });

  it("refuses bad ports in client-go's words", () => {
    expect(() => parsePorts(['1:2:3'], web)).toThrow("invalid port format '1:2:3'");
    expect(() => parsePorts(['70000:80'], web)).toThrow(
      'error parsing local port \'70000\': strconv.ParseUint: parsing "70000": value out of range',
    );
    expect(() => parsePorts(['80:-1'], web)).toThrow(
      'error parsing remote port \'-1\': strconv.ParseUint: parsing "-1": invalid syntax',
    );
    expect(() => parsePorts(['0'], web)).toThrow('remote port must be > 0');
    expect(() => parsePorts(['8080:grpc'], web)).toThrow("Pod 'demo' does not have a named port 'grpc'");
  });

  it('localhost is 127.0.0.1 and ::1 (enough if one works); an IP must work', () => {
    expect(parseAddresses(['localhost', '127.0.0.2', 'localhost'])).toEqual([
      { host: '127.0.0.1', family: 4, failureMode: 'all' },
      { host: '::1', family: 6, failureMode: 'all' },
      { host: '127.0.0.2', family: 0, failureMode: 'any' },
    ]);
    expect(() => parseAddresses(['example.com'])).toThrow('example.com is not a valid IP');
  });
});
