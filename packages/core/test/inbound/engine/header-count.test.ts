import { describe, expect, it } from 'vitest';
import type { InboundRequest } from '../../../src/inbound/engine-types.js';
import { engineFor, ingressGateway, planOf, request } from './support.js';

// Envoy's HTTP/1 codec refuses a request with more headers than `max_headers_count`, 100 unless
// the listener's HttpProtocolOptions say otherwise (istiod leaves it unset), before any filter:
// a 431 local reply `Request Header Fields Too Large` (CodeUtility::toString) with details
// `http1.too_many_headers`, flag DPE, and the connection is closed (http1 codec_impl.cc
// completeCurrentHeader, sendProtocolError; a codec error ends the connection).

const ALLOW_NOTHING = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: allow-nothing, namespace: foo }
spec: {}
`;

/** `n` distinct headers, as the node adapter counts them (one per header line). */
function withHeaders(n: number, extra: Partial<InboundRequest> = {}): InboundRequest {
  const headers: Record<string, string> = { host: 'httpbin.foo:8000' };
  for (let i = 1; i < n; i++) headers[`x-h${i}`] = 'v';
  return request({ headers, ...extra });
}

describe("the codec's header count limit", () => {
  it('lets a request with 100 headers through to the filters', async () => {
    const d = await engineFor(planOf('')).decide(withHeaders(100));
    expect(d.allow).toBe(true);
  });

  it('refuses the 101st with 431, DPE and http1.too_many_headers, closing the connection, before any policy', async () => {
    const d = await engineFor(planOf(ALLOW_NOTHING)).decide(withHeaders(101));
    expect(d.allow).toBe(false);
    if (d.allow) return;
    expect([d.status, d.body, d.flags]).toEqual([431, 'Request Header Fields Too Large', ['DPE']]);
    expect(d.headers['connection']).toBe('close');
    expect(d.headers['content-type']).toBe('text/plain');
    // The codec's, not a filter's: no route, span or exchange answer (codec-refusal-report.ts).
    expect(d.reason.stage).toBe('codec');
    expect(d.reason.responseCodeDetails).toBe('http1.too_many_headers');
    expect(d.reason.detail).toContain('101');
  });

  it('counts each line of a repeated header', async () => {
    const headers: Record<string, string | string[]> = {
      host: 'h',
      'x-many': Array.from({ length: 100 }, () => 'v'),
    };
    const d = await engineFor(planOf('')).decide(request({ headers }));
    expect(d.allow ? 200 : d.status).toBe(431);
  });

  it('takes the count the adapter read off the wire when it gives one', async () => {
    const engine = engineFor(planOf(''));
    const few = await engine.decide(request({ headers: { host: 'h' }, headerCount: 150 }));
    expect(few.allow ? 200 : few.status).toBe(431);
    const many = await engine.decide(withHeaders(120, { headerCount: 100 }));
    expect(many.allow).toBe(true);
  });

  it('applies at a gateway too', async () => {
    const d = await engineFor(planOf('', { workload: ingressGateway })).decide(withHeaders(101));
    expect(d.allow ? 200 : d.status).toBe(431);
  });
});
