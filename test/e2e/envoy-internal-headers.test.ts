import { afterEach, describe, expect, it } from 'vitest';
import { ADAPTERS, serveBehindMesh, type AdapterKind } from '../support/adapter-servers.js';
import { httpbinMesh, type Closers } from '../support/httpbin-mesh.js';

// What a caller's Envoy headers look like to the application behind the sidecar. Envoy's
// connection manager removes `x-envoy-internal` from every request and marks none internal on a
// sidecar (its inbound listener does not use the remote address), so the request is external
// and cleanInternalHeaders also takes off Envoy's control headers; the edge-only ones and any
// other `x-envoy-` header pass (envoy conn_manager_utility.cc mutateRequestHeaders). An
// application that trusts `x-envoy-internal`, as Envoy's documentation suggests, is safe.

const closers: Closers = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

type Echo = { headers: Record<string, unknown>; raw: string[] };

/** `/headers` answers with the request's headers and raw names. */
const serve = async (kind: AdapterKind): Promise<number> =>
  serveBehindMesh(
    kind,
    await httpbinMesh(closers),
    '/headers',
    (req): Echo => ({ headers: req.headers, raw: req.rawHeaders.filter((_, i) => i % 2 === 0) }),
    closers,
  );

const SENT = {
  'X-Envoy-Internal': 'true',
  'x-envoy-retry-on': '5xx',
  'x-envoy-upstream-rq-timeout-ms': '1',
  'x-envoy-force-trace': 'true',
  'x-envoy-attempt-count': '2',
  'x-envoy-decorator-operation': 'op',
  'x-envoy-external-address': '203.0.113.7',
};

describe.each(ADAPTERS)("a caller's Envoy headers, %s", (kind) => {
  it('never reach the application as x-envoy-internal or control headers; the others do', async () => {
    const port = await serve(kind);
    const res = await fetch(`http://127.0.0.1:${port}/headers`, { headers: SENT });
    expect(res.status).toBe(200);
    const { headers, raw } = (await res.json()) as Echo;
    const envoy = Object.keys(headers)
      .filter((h) => h.startsWith('x-envoy-'))
      .sort();
    expect(envoy).toEqual([
      'x-envoy-attempt-count',
      'x-envoy-decorator-operation',
      'x-envoy-external-address',
    ]);
    expect(
      raw
        .map((h) => h.toLowerCase())
        .filter((h) => h.startsWith('x-envoy-'))
        .sort(),
    ).toEqual(envoy);
    expect(headers['x-envoy-attempt-count']).toBe('2');
  });
});
