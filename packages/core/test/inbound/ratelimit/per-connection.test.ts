import { describe, expect, it } from 'vitest';
import type { InboundRequest } from '../../../src/inbound/engine-types.js';
import { createManualClock } from '../../../src/runtime/clock.js';
import { localRateLimitYaml } from '../../helpers/local-rate-limit.js';
import { engineFor, planOf, request, verdict } from '../engine/support.js';

// envoy source/extensions/filters/http/local_ratelimit (Filter::requestAllowed,
// getPerConnectionRateLimiter): with `local_rate_limit_per_downstream_connection: true` the
// bucket is a filter state object of the downstream connection (key
// "per_connection_local_rate_limiter", LifeSpan::Connection), made full on the connection's
// first request; the filter's shared bucket is not used.

function perConnection(opts: { xrl?: boolean; perConnection?: boolean } = {}): string {
  const yaml = localRateLimitYaml({
    bucket: '{ max_tokens: 2, tokens_per_fill: 1, fill_interval: 60s }',
    xRateLimitHeaders: opts.xrl === true,
  });
  return opts.perConnection === false
    ? yaml
    : yaml.replace(
        'stat_prefix: http_local_rate_limiter',
        'stat_prefix: http_local_rate_limiter\n            local_rate_limit_per_downstream_connection: true',
      );
}

/** A request on the connection `socket`, as the node adapters pass it. */
function onSocket(socket: object, partial: Partial<InboundRequest> = {}): InboundRequest {
  return request({ sourcePort: 40000, ...partial, connection: socket });
}

describe('local_rate_limit_per_downstream_connection', () => {
  it('gives each downstream connection its own full bucket', async () => {
    const engine = engineFor(planOf(perConnection()), { clock: createManualClock() });
    const a = { sourcePort: 1111 };
    const b = { sourcePort: 2222 };
    const out: (number | 'allow')[] = [];
    for (const conn of [a, a, a, b, b, b, a]) out.push(verdict(await engine.decide(request(conn))));
    expect(out).toEqual(['allow', 'allow', 429, 'allow', 'allow', 429, 429]);
  });

  it('still shares one bucket among connections without the option', async () => {
    const engine = engineFor(planOf(perConnection({ perConnection: false })), { clock: createManualClock() });
    const out: (number | 'allow')[] = [];
    for (const sourcePort of [1111, 2222, 3333])
      out.push(verdict(await engine.decide(request({ sourcePort }))));
    expect(out).toEqual(['allow', 'allow', 429]);
  });

  it("keys the bucket by the request's socket: a new connection from a reused port starts full", async () => {
    const engine = engineFor(planOf(perConnection()), { clock: createManualClock() });
    const first = {};
    const second = {};
    const out: (number | 'allow')[] = [];
    for (const s of [first, first, first, second, second])
      out.push(verdict(await engine.decide(onSocket(s))));
    expect(out).toEqual(['allow', 'allow', 429, 'allow', 'allow']);
  });

  it("reports the connection's own bucket in x-ratelimit-remaining", async () => {
    const engine = engineFor(planOf(perConnection({ xrl: true })), { clock: createManualClock() });
    const remaining = async (sourcePort: number) => {
      const d = await engine.decide(request({ sourcePort }));
      return d.allow ? d.responseHeaders['x-ratelimit-remaining'] : d.status;
    };
    expect(await remaining(1111)).toBe('1');
    expect(await remaining(2222)).toBe('1');
    expect(await remaining(1111)).toBe('0');
  });
});
