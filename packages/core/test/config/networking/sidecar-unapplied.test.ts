import { describe, expect, it } from 'vitest';
import { formatPath } from '../../../src/config/diagnostic.js';
import { validate } from './helpers.js';

// A Sidecar's workload selection, egress hosts and ports and outboundTrafficPolicy are
// applied (compile/sidecar-scope.ts); what has no meaning without a proxy in front of the
// application is warned (MESHLET0004) at its path, never silently ignored.

describe('Sidecar settings meshlet does not apply', () => {
  it('warns for ingress listeners, egress bind and captureMode, and inboundConnectionPool', () => {
    const found = validate('Sidecar', {
      ingress: [
        { port: { number: 9080, protocol: 'HTTP', name: 'http' }, defaultEndpoint: '127.0.0.1:8080' },
      ],
      egress: [
        { port: { number: 9080, protocol: 'HTTP', name: 'egress' }, bind: '127.0.0.1', hosts: ['./*'] },
        { captureMode: 'NONE', hosts: ['istio-system/*'] },
      ],
      inboundConnectionPool: { http: { http1MaxPendingRequests: 10 } },
    }).filter((f) => f.code === 'MESHLET0004');
    expect(found.map((f) => [f.level, formatPath(f.path)])).toEqual([
      ['Warning', 'spec.ingress[0]'],
      ['Warning', 'spec.egress[0].bind'],
      ['Warning', 'spec.egress[1].captureMode'],
      ['Warning', 'spec.inboundConnectionPool'],
    ]);
    expect(found[0]?.message).toMatch(/the application serves its own ports/);
  });

  it('says nothing about egress hosts, ports and the outbound traffic policy, which it applies', () => {
    const found = validate('Sidecar', {
      egress: [
        { port: { number: 9080, protocol: 'HTTP', name: 'egress' }, hosts: ['./*'] },
        { hosts: ['*/*'] },
      ],
      outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' },
    });
    expect(found).toEqual([]);
  });
});
