import { afterEach, describe, expect, it } from 'vitest';
import { linesBeyond } from '../../packages/core/test/helpers/line-collector.js';
import { useTmpDir } from '../../packages/core/test/helpers/tmp.js';
import type { Closers } from '../support/httpbin-mesh.js';
import {
  ALL_SERVERS,
  MESH_SERVERS,
  observedHttpbin,
  plainExchange,
  requestsTotal,
} from '../support/observed-httpbin.js';

// Istio's sidecars and gateways answer HTTP/1.0 `426 Upgrade Required` (Envoy's connection
// manager without `accept_http_10`, which istiod sets only with PILOT_HTTP10 or a proxy's
// ISTIO_META_HTTP10=1): what ApacheBench, or nginx's `proxy_pass` at its default
// `proxy_http_version 1.0`, meets in front of a meshed service. The refusal comes before
// routing: counted with no route (the bare canonical service), logged with the request line,
// no span. Through real servers, with the request line written on a raw socket.

const tmp = useTmpDir();
const closers: Closers = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

const GET_10 = 'GET / HTTP/1.0\r\nHost: httpbin\r\nUser-Agent: ApacheBench/2.3\r\n\r\n';

describe.each(ALL_SERVERS)('an HTTP/1.0 request, %s', (kind) => {
  it('is 426 Upgrade Required before the application, counted and logged as the sidecar does', async () => {
    const s = await observedHttpbin(kind, await tmp(), closers);
    const text = await plainExchange(s.port, GET_10);
    expect(text.split('\r\n')[0]).toBe('HTTP/1.1 426 Upgrade Required');
    expect(text.toLowerCase()).toContain('\r\nserver: istio-envoy\r\n');
    expect(text.toLowerCase()).not.toContain('x-envoy-decorator-operation');
    expect(text.endsWith('\r\n\r\n')).toBe(true);
    expect(s.handled()).toBe(0);
    await linesBeyond(s.log, 0);
    expect(JSON.parse(s.log[0]!)).toMatchObject({
      method: 'GET',
      path: '/',
      protocol: 'HTTP/1.0',
      response_code: 426,
      response_flags: '-',
      response_code_details: 'low_version',
      user_agent: 'ApacheBench/2.3',
      request_id: null,
      upstream_cluster: null,
      route_name: null,
    });
    expect((await requestsTotal(s.registry)).map((r) => r.labels)).toMatchObject([
      { response_code: '426', response_flags: '-', destination_service: 'httpbin' },
    ]);
    expect(s.spans.getFinishedSpans()).toEqual([]);
  });

  it('is served with istiod’s PILOT_HTTP10', async () => {
    const s = await observedHttpbin(kind, await tmp(), closers, { istiodFeatures: { http10: true } });
    const text = await plainExchange(s.port, GET_10);
    expect(text.split('\r\n')[0]).toBe('HTTP/1.1 200 OK');
    expect(text.endsWith('ok')).toBe(true);
    expect(s.handled()).toBe(1);
  });
});

// HTTP/1.0 needs no Host: the connection manager answers 426 before asking for one, and only
// with HTTP/1.0 accepted does a request without a Host get its 400 missing_host_header.
describe.each(MESH_SERVERS)('an HTTP/1.0 request without a Host, %s', (kind) => {
  it('is 426 by default, and 400 missing_host_header once HTTP/1.0 is accepted', async () => {
    const refused = await observedHttpbin(kind, await tmp(), closers);
    expect((await plainExchange(refused.port, 'GET / HTTP/1.0\r\n\r\n')).split('\r\n')[0]).toBe(
      'HTTP/1.1 426 Upgrade Required',
    );
    const accepted = await observedHttpbin(kind, await tmp(), closers, { istiodFeatures: { http10: true } });
    expect((await plainExchange(accepted.port, 'GET / HTTP/1.0\r\n\r\n')).split('\r\n')[0]).toBe(
      'HTTP/1.1 400 Bad Request',
    );
    await linesBeyond(accepted.log, 0);
    expect(JSON.parse(accepted.log[0]!)).toMatchObject({ response_code_details: 'missing_host_header' });
    expect(accepted.handled()).toBe(0);
  });
});
