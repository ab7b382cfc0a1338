import { describe, expect, it } from 'vitest';
import { createManualClock } from '../../../src/runtime/clock.js';
import { seededRandom } from '../../../src/runtime/random.js';
import { engineFor, planOf, request, verdict } from '../engine/support.js';
import { localRateLimitYaml } from '../../helpers/local-rate-limit.js';

/** The istio.io local rate limit task's EnvoyFilter, as these tests vary it. */
function limit(
  opts: { enabled?: number; enforced?: number; xrl?: boolean; port?: number; bucket?: string } = {},
) {
  return localRateLimitYaml({
    bucket: opts.bucket ?? '{ max_tokens: 2, tokens_per_fill: 1, fill_interval: 60s }',
    ...(opts.enabled === undefined ? {} : { enabled: opts.enabled }),
    ...(opts.enforced === undefined ? {} : { enforced: opts.enforced }),
    ...(opts.port === undefined ? {} : { port: opts.port }),
    xRateLimitHeaders: opts.xrl === true,
    shadowHeader: true,
    responseHeader: 'append_action',
  });
}

/** The verdicts of `n` requests decided one after another (each sees the previous one's token use). */
async function inTurn(engine: ReturnType<typeof engineFor>, n: number): Promise<(number | 'allow')[]> {
  const out: (number | 'allow')[] = [];
  for (let i = 0; i < n; i++) out.push(verdict(await engine.decide(request())));
  return out;
}

describe('local rate limit', () => {
  it('starts full, answers 429 local_rate_limited with the configured headers when empty, and refills up to max_tokens', async () => {
    const clock = createManualClock();
    const engine = engineFor(planOf(limit()), { clock });
    const first = await Promise.all([1, 2, 3].map(() => engine.decide(request())));
    expect(first.map(verdict)).toEqual(['allow', 'allow', 429]);
    const limited = first[2]!;
    expect(limited.allow).toBe(false);
    if (!limited.allow) {
      expect(limited.body).toBe('local_rate_limited');
      expect(limited.headers['x-local-rate-limit']).toBe('true');
      expect(limited.flags).toEqual(['RL']);
      expect(limited.reason).toMatchObject({ stage: 'ratelimit', policy: 'foo/filter-local-ratelimit-svc' });
    }
    await clock.advance(59_999);
    expect(verdict(await engine.decide(request()))).toBe(429);
    await clock.advance(1);
    expect(verdict(await engine.decide(request()))).toBe('allow');
    expect(verdict(await engine.decide(request()))).toBe(429);
    // Several intervals refill several tokens, capped at max_tokens.
    await clock.advance(600_000);
    const after = await Promise.all([1, 2, 3].map(() => engine.decide(request())));
    expect(after.map(verdict)).toEqual(['allow', 'allow', 429]);
    expect(clock.pending()).toBe(0);
  });

  it("refills continuously, as Envoy's bucket has since 1.31: a quarter interval brings a quarter of tokens_per_fill", async () => {
    // The istio.io task's numbers: 4 tokens, 4 per 60 s. envoy local_ratelimit_impl.h
    // AtomicTokenBucket refills at tokens_per_fill / fill_interval on every access.
    const clock = createManualClock();
    const engine = engineFor(
      planOf(limit({ bucket: '{ max_tokens: 4, tokens_per_fill: 4, fill_interval: 60s }' })),
      {
        clock,
      },
    );
    expect(await inTurn(engine, 5)).toEqual(['allow', 'allow', 'allow', 'allow', 429]);
    await clock.advance(14_999);
    expect(verdict(await engine.decide(request()))).toBe(429);
    await clock.advance(1);
    expect(verdict(await engine.decide(request()))).toBe('allow');
    expect(verdict(await engine.decide(request()))).toBe(429);
    await clock.advance(30_000);
    expect(await inTurn(engine, 3)).toEqual(['allow', 'allow', 429]);
  });

  it('counts but forwards when enabled and not enforced, adding request_headers_to_add_when_not_enforced', async () => {
    const engine = engineFor(planOf(limit({ enforced: 0 })));
    const got = await Promise.all([1, 2, 3].map(() => engine.decide(request())));
    expect(got.map(verdict)).toEqual(['allow', 'allow', 'allow']);
    expect(got.map((d) => (d.allow ? d.setHeaders['x-local-rate-limit-shadow'] : null))).toEqual([
      undefined,
      undefined,
      'true',
    ]);
  });

  it('does nothing when filter_enabled is 0 %', async () => {
    const engine = engineFor(planOf(limit({ enabled: 0 })));
    const got = await Promise.all([1, 2, 3, 4].map(() => engine.decide(request())));
    expect(got.map(verdict)).toEqual(['allow', 'allow', 'allow', 'allow']);
  });

  it('draws filter_enabled and filter_enforced fractions from the injected random', async () => {
    const run = async (seed: number) => {
      const engine = engineFor(
        planOf(limit({ enabled: 50, enforced: 50, bucket: '{ max_tokens: 1, fill_interval: 3600s }' })),
        {
          random: seededRandom(seed),
        },
      );
      return inTurn(engine, 400);
    };
    const a = await run(42);
    expect(await run(42)).toEqual(a);
    // About half the requests are enabled, and about half of those that find the bucket empty are enforced: ~25 %.
    const limitedShare = a.filter((v) => v === 429).length / a.length;
    expect(limitedShare).toBeGreaterThan(0.15);
    expect(limitedShare).toBeLessThan(0.35);
  });

  it('adds x-ratelimit-limit and -remaining with DRAFT_VERSION_03, and no reset (the bucket has no interval left)', async () => {
    const clock = createManualClock();
    const engine = engineFor(planOf(limit({ xrl: true, bucket: '{ max_tokens: 2, fill_interval: 10s }' })), {
      clock,
    });
    const a = await engine.decide(request());
    await clock.advance(4_000);
    const b = await engine.decide(request());
    const c = await engine.decide(request());
    expect(a.allow && a.responseHeaders).toEqual({ 'x-ratelimit-limit': '2', 'x-ratelimit-remaining': '1' });
    // 1 + 4 s × 0.1 token/s = 1.4; one taken leaves 0.4, reported as 0 whole tokens.
    expect(b.allow && b.responseHeaders).toEqual({ 'x-ratelimit-limit': '2', 'x-ratelimit-remaining': '0' });
    expect(c.allow ? null : c.headers).toMatchObject({
      'x-ratelimit-remaining': '0',
      'x-local-rate-limit': 'true',
    });
  });

  it('runs after authentication and authorization when inserted before the router, so a refused request takes no token', async () => {
    // istio envoyfilter/listener_patch.go: INSERT_BEFORE with subFilter places the filter
    // just before it; before envoy.filters.http.router means after jwt_authn, ext_authz and
    // RBAC. Without a subFilter (the istio.io task) it goes first.
    const allowPublic = `
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: public-only, namespace: foo }
spec:
  selector: { matchLabels: { app: httpbin } }
  rules: [{ to: [{ operation: { paths: ["/public"] } }] }]
`;
    const bucket = '{ max_tokens: 1, tokens_per_fill: 1, fill_interval: 3600s }';
    const last = engineFor(
      planOf(localRateLimitYaml({ bucket, subFilter: 'envoy.filters.http.router' }) + allowPublic),
    );
    const lastSeen = [];
    for (const url of ['/admin', '/admin', '/public', '/public'])
      lastSeen.push(verdict(await last.decide(request({ url }))));
    expect(lastSeen).toEqual([403, 403, 'allow', 429]);

    const first = engineFor(planOf(localRateLimitYaml({ bucket }) + allowPublic));
    const firstSeen = [];
    for (const url of ['/admin', '/admin', '/public'])
      firstSeen.push(verdict(await first.decide(request({ url }))));
    expect(firstSeen).toEqual([403, 429, 429]);
  });

  it('applies only on the listener port the patch names', async () => {
    const engine = engineFor(planOf(limit({ port: 9080, bucket: '{ max_tokens: 1, fill_interval: 60s }' })));
    const got = [];
    for (const port of [8000, 8000, 9080, 9080]) got.push(verdict(await engine.decide(request({ port }))));
    expect(got).toEqual(['allow', 'allow', 'allow', 429]);
  });

  it('keeps one bucket per plan across requests and a fresh one for a new plan', async () => {
    let plan = planOf(limit({ bucket: '{ max_tokens: 1, fill_interval: 60s }' }));
    const engine = engineFor(plan, { getPlan: () => plan });
    expect(verdict(await engine.decide(request()))).toBe('allow');
    expect(verdict(await engine.decide(request()))).toBe(429);
    plan = planOf(limit({ bucket: '{ max_tokens: 1, fill_interval: 60s }' }));
    expect(verdict(await engine.decide(request()))).toBe('allow');
  });
});
