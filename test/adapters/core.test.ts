import { describe, it } from 'vitest';
import { CASES, type ConformanceCase } from './cases.js';
import { newObserved, routeOf, type Echo } from './support/app.js';
import { createScenarioHandle } from './support/handle.js';
import { expectOutcome, type Outcome } from './support/outcome.js';
import type { InboundRequest } from '../../packages/core/src/inbound/engine-types.js';

/**
 * The table against the engine alone: what an ideal adapter would produce if it did
 * nothing but translate (route on `decision.url`, apply the header edits).
 */
function inboundOf(c: ConformanceCase): InboundRequest {
  const headers: Record<string, string> = { host: '127.0.0.1:8000', ...c.request.headers };
  return {
    method: c.request.method,
    url: c.request.path,
    authority: headers['host']!,
    headers,
    scheme: 'http',
    port: 8000,
    peer: null,
    sourceIp: '127.0.0.1',
    destinationIp: '127.0.0.1',
    sni: null,
  };
}

async function run(c: ConformanceCase): Promise<Outcome> {
  const handle = await createScenarioHandle(c.scenario);
  const observed = newObserved();
  try {
    let out: Outcome | undefined;
    for (let i = 0; i <= (c.warmup ?? 0); i++) {
      const req = inboundOf(c);
      const d = await handle.decide(req);
      if (!d.allow) {
        // Both adapters default a refusal's content-type to text/plain, as Envoy's local replies are.
        out = {
          status: d.status,
          body: d.body,
          headers: { 'content-type': 'text/plain', ...d.headers },
          echo: null,
          observed,
        };
        continue;
      }
      const route = routeOf(d.url);
      if (route === null) {
        out = { status: 404, body: '', headers: {}, echo: null, observed };
        continue;
      }
      const seen: Record<string, string | readonly string[] | undefined> = { ...req.headers };
      for (const name of d.removeHeaders) delete seen[name];
      Object.assign(seen, d.setHeaders);
      observed.handlers.push(route);
      if (c.request.body !== undefined) observed.bodiesRead += 1;
      const echo: Echo = {
        handler: route,
        url: d.url,
        meshlet: d.context,
        headers: seen,
        body: c.request.body ?? null,
      };
      out = { status: 200, body: JSON.stringify(echo), headers: d.responseHeaders, echo, observed };
    }
    return out!;
  } finally {
    await handle.close();
  }
}

describe(`inbound conformance: core engine`, () => {
  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    expectOutcome(c, await run(c));
  });
});
