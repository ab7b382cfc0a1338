import type { GlobalRateLimitPlan, RateLimitPlan } from '../compile/inbound-types.js';
import type { MeshPlan } from '../compile/plan-types.js';
import { onPort, type RateLimitDescriptor } from '../inbound/ratelimit/descriptors.js';
import type { RateLimitAnswer } from '../inbound/ratelimit/global-rate-limit.js';
import type { RateLimitResponse } from '../inbound/ratelimit/rls-messages.js';

const ASSUMED_OK: RateLimitResponse = Object.freeze({
  overallCode: 'OK',
  statuses: [],
  responseHeadersToAdd: [],
  requestHeadersToAdd: [],
  rawBody: null,
});

/** What `meshlet explain` saw the global rate limit filters send, answering OK in their service's place. */
export class RateLimitRecorder {
  readonly #sent = new Map<GlobalRateLimitPlan, readonly RateLimitDescriptor[]>();

  readonly answer: RateLimitAnswer = (filter, descriptors) => {
    this.#sent.set(filter, descriptors);
    return Promise.resolve(ASSUMED_OK);
  };

  sent(filter: GlobalRateLimitPlan): readonly RateLimitDescriptor[] | undefined {
    return this.#sent.get(filter);
  }
}

const name = (p: { envoyFilter: { namespace: string; name: string } }) =>
  `${p.envoyFilter.namespace}/${p.envoyFilter.name}`;

function serviceOf(f: GlobalRateLimitPlan): string {
  const s = f.service;
  if (s.kind === 'mesh') return `outbound|${s.port}||${s.host}`;
  if (s.kind === 'static')
    return `a patched cluster (${s.endpoints.map((e) => `${e.address}:${e.port}`).join(', ')})`;
  return `cluster ${s.clusterName}, which this proxy does not have (every call fails)`;
}

function localLine(p: RateLimitPlan): string {
  const c = p.config;
  const bucket =
    c.tokenBucket === null
      ? 'no default bucket'
      : `${c.tokenBucket.maxTokens} tokens, ${c.tokenBucket.tokensPerFill} per ${c.tokenBucket.fillIntervalMs / 1000}s`;
  const descriptors = c.descriptors.length === 0 ? '' : `, ${c.descriptors.length} descriptor bucket(s)`;
  return `local ${name(p)}${p.applyTo === 'HTTP_ROUTE' ? ' (route config)' : ''}: ${bucket}${descriptors}, enforced ${Math.round(c.filterEnforced * 100)}% (buckets start full in explain)`;
}

function globalLine(f: GlobalRateLimitPlan, sent: readonly RateLimitDescriptor[] | undefined): string {
  const c = f.config;
  const what =
    sent === undefined
      ? 'sends nothing for this request (no rate_limits descriptor of its stage)'
      : `sends ${sent.map((d) => `[${d.entries.map((e) => `${e.key}=${e.value}`).join(', ')}]`).join(' ')}`;
  const onError = c.failureModeDeny
    ? `a failure answers ${c.statusOnError}`
    : 'a failure lets the request through';
  return `global ${name(f)} domain ${c.domain} via ${serviceOf(f)}: ${what}; ${onError}; not called by explain (assumed OK)`;
}

/** One line per rate limit filter on the request's port, in chain order (local ones first). */
export function rateLimitLines(plan: MeshPlan, port: number, recorder: RateLimitRecorder): string[] {
  return [
    ...plan.inbound.rateLimits.filter((p) => onPort(p, port)).map(localLine),
    ...(plan.inbound.globalRateLimits ?? [])
      .filter((f) => onPort(f, port))
      .map((f) => globalLine(f, recorder.sent(f))),
  ];
}
