import type { JwtRulePlan } from '../../compile/inbound-types.js';
import { MeshletError } from '../../errors/meshlet-error.js';
import type { Clock } from '../../runtime/clock.js';
import { systemClock } from '../../runtime/clock.js';
import { wallClockMs } from '../../runtime/wall-clock.js';
import type { InboundRequest } from '../engine-types.js';
import { audiencesAllowed } from './audiences.js';
import { compileRules } from './compile-rules.js';
import type { CompiledRule, CompiledRules } from './compile-rules.js';
import { verifySignature } from './jwks.js';
import { extractTokens, jwtRun } from './locations.js';
import type { FoundToken, TokenLocation } from './locations.js';
import { groupLines, headersAsSeen, normalizeClaims, outputLines, repeatedLines } from './output-headers.js';
import { parseToken } from './parse-token.js';
import type { ParsedJwt } from './parse-token.js';
import { RemoteJwks } from './remote-jwks.js';
import type { KeyState } from './remote-jwks.js';
import { denyResult, NONE } from './results.js';
import type { JwtStatus } from './status.js';
import { TokenCache } from './token-cache.js';
import type { JwtOk } from './token-cache.js';
import type { JwtAuthenticator, JwtResult } from './types.js';

/** Options of {@link createJwtAuthenticator}. */
export interface JwtAuthenticatorOptions {
  /** Schedules JWKS refresh and fetch deadlines. */
  readonly clock: Clock;
  /** Fetches JWKS and OIDC discovery documents; default `globalThis.fetch`. */
  readonly fetch?: typeof fetch;
  /** Remote keys are refetched after this long (istiod `PILOT_JWT_PUB_KEY_REFRESH_INTERVAL`, 20 min). */
  readonly refreshIntervalMs?: number;
  /**
   * After a failed refresh, the next waits this long, twice as long after each further failure
   * (at most 60 min); keys never fetched are tried again this long after their retries failed
   * (istiod `JwtPubKeyRefreshIntervalOnFailure`: 1 min).
   */
  readonly retryAfterFailureMs?: number;
  /** Between the attempts of one fetch, within the rule's timeout (istiod `JwtPubKeyRetryInterval`: 1 s). */
  readonly retryIntervalMs?: number;
  /** A longer token is refused with `Jwt verification fails` before any parsing (default 32 KiB). */
  readonly maxTokenBytes?: number;
  /** A JWKS or discovery body past this size is a failed fetch (default 512 KiB). */
  readonly maxJwksBytes?: number;
  /** Verified tokens kept for reuse (default 1000; 0 disables the cache). */
  readonly tokenCacheSize?: number;
  /**
   * Wall-clock milliseconds since the epoch, for `exp`/`nbf`. Default: the wall clock
   * (`wallClockMs`, which follows `Date.now` within a second) with the system clock, else
   * the clock's `epochMs()` (the mock mesh's virtual clock), else `clock.now()` (a manual
   * clock in tests starts at an epoch time).
   */
  readonly now?: () => number;
  /** Told about each failed JWKS fetch (`MESHLET_ERR_JWT_JWKS_FETCH`); must not throw. */
  readonly onJwksError?: (error: MeshletError) => void;
}

/** Envoy's default `clock_skew_seconds`, which Istio never overrides (jwt_verify_lib `kClockSkewInSecond`). */
export const CLOCK_SKEW_SECONDS = 60;

const DEFAULTS = {
  refreshIntervalMs: 20 * 60_000,
  retryAfterFailureMs: 60_000,
  retryIntervalMs: 1_000,
  maxTokenBytes: 32 * 1024,
  maxJwksBytes: 512 * 1024,
  tokenCacheSize: 1000,
};

/**
 * RequestAuthentication (`security.istio.io` `jwtRules`) as the sidecar enforces it: Envoy's
 * jwt_authn filter with the requirement istiod generates (pilot/pkg/security/authn
 * `convertToEnvoyJwtConfig`): any one rule may accept the token; no token passes without a
 * principal; a token that no rule accepts is refused with the status Envoy's requires-any
 * aggregation picks (see {@link finalStatus}): a real error beats `Jwt issuer is not configured`.
 * Several tokens (in different locations) are all checked as Envoy checks them (see
 * {@link evaluateTokens}); the api leaves the principal of such a request "undefined", and it
 * is Envoy's: the payload of the last token verified.
 */
export function createJwtAuthenticator(options: JwtAuthenticatorOptions): JwtAuthenticator {
  const opts = { ...DEFAULTS, ...withoutUndefined(options) };
  for (const name of Object.keys(DEFAULTS) as (keyof typeof DEFAULTS)[]) {
    const v = opts[name];
    if (!Number.isFinite(v) || v < 0) {
      throw new MeshletError(
        'MESHLET_ERR_JWT_OPTIONS',
        `createJwtAuthenticator: "${name}" must be a non-negative number, got ${String(v)}`,
        { option: name, value: v },
      );
    }
  }
  const clock = options.clock;
  const epochMs =
    options.now ??
    (clock === systemClock
      ? wallClockMs
      : clock.epochMs !== undefined
        ? () => (clock.epochMs as () => number)()
        : () => clock.now());
  const remote = new RemoteJwks({
    clock,
    fetch: options.fetch ?? globalThis.fetch.bind(globalThis),
    refreshIntervalMs: opts.refreshIntervalMs,
    retryAfterFailureMs: opts.retryAfterFailureMs,
    retryIntervalMs: opts.retryIntervalMs,
    maxBodyBytes: opts.maxJwksBytes,
    onError: options.onJwksError ?? (() => undefined),
  });
  const cache = new TokenCache(opts.tokenCacheSize);
  const compiled = new WeakMap<readonly JwtRulePlan[], CompiledRules>();

  const compiledFor = (rules: readonly JwtRulePlan[]): CompiledRules => {
    let c = compiled.get(rules);
    if (c === undefined) {
      c = compileRules(rules);
      compiled.set(rules, c);
    }
    return c;
  };

  /**
   * The remote keys each cached verification was made with. A cached result counts only while
   * its rule's keys are still those and not due for a refresh: istiod refreshes on a timer and
   * pushes new keys, and the push empties Envoy's token cache (see {@link cachedFor}).
   */
  const verifiedWith = new WeakMap<JwtOk, KeyState>();

  /** A remembered verification of the token for this rule and location, if it still holds. */
  const cachedFor = (
    hit: ReturnType<TokenCache['get']>,
    rule: CompiledRule,
    key: string,
  ): JwtOk | undefined => {
    const cached = hit?.results.get(rule)?.get(key);
    if (cached === undefined || rule.keys.kind === 'inline') return cached;
    const keys = remote.current(rule.keys.source);
    return keys !== null && keys === verifiedWith.get(cached) ? cached : undefined;
  };

  /** Verifies, then remembers a success with the keys it was made with. */
  const verifyAndRemember = async (
    plan: CompiledRules,
    rule: CompiledRule,
    jwt: ParsedJwt,
    location: TokenLocation,
    nowSec: number,
  ): Promise<JwtOk | JwtStatus> => {
    let keys: KeyState | null = null;
    const status = await verifyFor(rule, jwt, nowSec, (k) => (keys = k));
    if (status !== null) return status;
    const result = okResult(plan, rule, jwt, location);
    if (keys !== null) verifiedWith.set(result, keys);
    cache.remember(jwt, rule, location.key, result);
    return result;
  };

  /** issuer → time → audiences → signature: jwt_authn authenticator.cc `startVerify` order. */
  const verifyFor = async (
    rule: CompiledRule,
    jwt: ParsedJwt,
    nowSec: number,
    usedRemote: (keys: KeyState) => void,
  ): Promise<JwtStatus | null> => {
    if (rule.issuer !== '' && jwt.iss !== rule.issuer) return 'JwtUnknownIssuer';
    const time = timeStatus(jwt, nowSec);
    if (time !== null) return time;
    if (!audiencesAllowed(rule.audiences, jwt.audiences)) return 'JwtAudienceNotAllowed';
    let state: KeyState;
    if (rule.keys.kind === 'inline') state = rule.keys.state;
    else {
      state = await remote.keys(rule.keys.source);
      usedRemote(state);
    }
    if (state.kind === 'keys') return verifySignature(jwt, state.keys);
    if (state.kind === 'invalid') return 'JwksNoValidKeys';
    // When it cannot fetch, istiod inlines `PublicOnlyJwks`, one RSA key without kid or alg
    // whose private key was discarded (pilot/pkg/model/jwks_resolver.go BuildLocalJwks).
    // jwt_verify_lib's verifyJwtWithoutTimeChecking (envoy source/common/jwt/verify.cc) marks a
    // key without kid or alg as matched before it looks at its kty, so every token, RSA-signed
    // or not, fails its signature there.
    return 'JwtVerificationFail';
  };

  /** The rules from `from` on; synchronous while every answer comes from the token cache. */
  const tryRules = (
    plan: CompiledRules,
    hit: ReturnType<TokenCache['get']>,
    jwt: ParsedJwt,
    location: TokenLocation,
    nowSec: number,
    req: InboundRequest,
    from: number,
    failures: Failures,
  ): JwtResult | Promise<JwtResult> => {
    for (let i = from; i < plan.rules.length; i++) {
      const rule = plan.rules[i]!;
      if (!rule.locationKeys.has(location.key)) continue;
      const cached = cachedFor(hit, rule, location.key);
      if (cached !== undefined) {
        // The cache entry proves issuer, audience and signature for this rule; time moves on.
        const time = timeStatus(jwt, nowSec);
        if (time === null) return cached;
        failures = withFailure(failures, time);
        continue;
      }
      return verifyAndRemember(plan, rule, jwt, location, nowSec).then((r) =>
        typeof r === 'string'
          ? tryRules(plan, hit, jwt, location, nowSec, req, i + 1, withFailure(failures, r))
          : r,
      );
    }
    return denyResult(finalStatus(failures), req);
  };

  const authenticateNow = (
    rules: readonly JwtRulePlan[],
    req: InboundRequest,
  ): JwtResult | Promise<JwtResult> => {
    if (rules.length === 0 || isCorsPreflight(req)) return NONE;
    const plan = compiledFor(rules);
    const found = extractTokens(plan.locations, req);
    const first = found[0];
    // Envoy strips the output headers before looking for a token (extractor.cc
    // sanitizeHeaders from verifier.cc), so a caller without one cannot forge them.
    if (first === undefined) return forgedOutput(plan, req) ? plan.none : NONE;
    if (found.length > 1) return evaluateTokens(plan, found, req, Math.floor(epochMs() / 1000));
    const { location } = first;
    let token = first.token;
    if (token.length > opts.maxTokenBytes) return denyResult('JwtVerificationFail', req);

    const nowSec = Math.floor(epochMs() / 1000);
    // A cached token without padding is all base64url and dots, so it is its own `jwtRun`:
    // no scan on such a hit.
    let hit = cache.get(token, nowSec, CLOCK_SKEW_SECONDS);
    if (hit === undefined || !hit.jwt.unpadded) {
      const run = jwtRun(first);
      if (run !== token) {
        token = run;
        hit = cache.get(token, nowSec, CLOCK_SKEW_SECONDS);
      }
    }
    let jwt: ParsedJwt;
    if (hit !== undefined) jwt = hit.jwt;
    else {
      const parsed = parseToken(token);
      if (!parsed.ok) return denyResult(parsed.status, req);
      jwt = parsed.jwt;
    }
    return tryRules(plan, hit, jwt, location, nowSec, req, 0, NO_FAILURES);
  };

  /** One provider's check of one token: its verified result, or why it failed. */
  const verifyToken = async (
    plan: CompiledRules,
    rule: CompiledRule,
    found: FoundToken,
    nowSec: number,
  ): Promise<JwtOk | JwtStatus> => {
    const { location } = found;
    const token = jwtRun(found);
    if (token.length > opts.maxTokenBytes) return 'JwtVerificationFail';
    const hit = cache.get(token, nowSec, CLOCK_SKEW_SECONDS);
    let jwt: ParsedJwt;
    if (hit !== undefined) jwt = hit.jwt;
    else {
      const parsed = parseToken(token);
      if (!parsed.ok) return parsed.status;
      jwt = parsed.jwt;
    }
    const cached = cachedFor(hit, rule, location.key);
    if (cached !== undefined) return timeStatus(jwt, nowSec) ?? cached;
    return verifyAndRemember(plan, rule, jwt, location, nowSec);
  };

  /**
   * Two or more tokens, each in its own location, run through the verifier tree istiod
   * configures, as Envoy runs it (jwt_authn verifier.cc, authenticator.cc):
   *
   * - a provider (rule) gets the tokens of its own locations, in extractor order, and checks
   *   them last first; it stops at the first failure, and passes when every one verified.
   *   A verified token's payload becomes the request's (the last one verified wins), its
   *   output header lines are added (Envoy addCopy: never overwritten), and its header or
   *   parameter is removed unless forwarded, so a later provider no longer sees it. A
   *   provider strips its output headers (every line of them) when it starts.
   * - one rule: `OR(P1, allow_missing)`; several: `OR(P1..Pn, AND(OR(P1, allow_missing)..))`,
   *   children run in order, the first that passes ends it; a failure is aggregated as
   *   verifier.cc `AnyVerifierImpl::onComplete` does ({@link aggregate}).
   */
  const evaluateTokens = async (
    plan: CompiledRules,
    found: readonly FoundToken[],
    req: InboundRequest,
    nowSec: number,
  ): Promise<JwtResult> => {
    const byKey = new Map(found.map((f) => [f.location.key, f]));
    const removedHeaders = new Set<string>();
    const removedParams = new Set<string>();
    // The output header lines on the request so far, by name (Envoy's addCopy: one line per add).
    const outputs = new Map<string, string[]>();
    let payloadOf: JwtOk | null = null;

    const present = (loc: TokenLocation): FoundToken | undefined => {
      if (loc.kind === 'header' && removedHeaders.has(loc.name)) return undefined;
      if (loc.kind === 'param' && removedParams.has(loc.name)) return undefined;
      return byKey.get(loc.key);
    };
    const runProvider = async (rule: CompiledRule): Promise<JwtStatus | null> => {
      if (rule.payloadHeader !== null) outputs.delete(rule.payloadHeader);
      for (const c of rule.claimHeaders) outputs.delete(c.header);
      const tokens: FoundToken[] = [];
      for (const loc of rule.locations) {
        const f = present(loc);
        if (f !== undefined) tokens.push(f);
      }
      if (tokens.length === 0) return 'JwtMissed';
      for (let i = tokens.length - 1; i >= 0; i--) {
        const f = tokens[i] as FoundToken;
        const r = await verifyToken(plan, rule, f, nowSec);
        if (typeof r === 'string') return r;
        groupLines(r.outputLines ?? Object.entries(r.setHeaders), outputs);
        if (!rule.forwardOriginalToken) {
          if (f.location.kind === 'header') removedHeaders.add(f.location.name);
          else if (f.location.kind === 'param') removedParams.add(f.location.name);
        }
        payloadOf = r;
      }
      return null;
    };
    const passed = (): JwtResult => {
      const last = payloadOf;
      const removeHeaders = [...removedHeaders];
      for (const h of plan.outputHeaders) if (!outputs.has(h)) removeHeaders.push(h);
      if (last === null) {
        return removeHeaders.length === 0 ? NONE : Object.freeze({ kind: 'none', removeHeaders });
      }
      return Object.freeze({
        kind: 'ok',
        principal: last.principal,
        claims: last.claims,
        issuer: last.issuer,
        removeHeaders: Object.freeze(removeHeaders),
        ...(removedParams.size === 0 ? {} : { removeParams: Object.freeze([...removedParams]) }),
        setHeaders: Object.freeze(headersAsSeen(outputs)),
        ...repeatedLines(outputs),
      });
    };

    const rules = plan.rules;
    if (rules.length === 1) {
      const status = await runProvider(rules[0] as CompiledRule);
      return status === null || status === 'JwtMissed' ? passed() : denyResult(status, req);
    }
    const statuses: JwtStatus[] = [];
    for (const rule of rules) {
      const status = await runProvider(rule);
      if (status === null) return passed();
      statuses.push(status);
    }
    let all: JwtStatus | null = null;
    for (const rule of rules) {
      const status = await runProvider(rule);
      if (status !== null && status !== 'JwtMissed') {
        all = status;
        break;
      }
    }
    if (all === null) return passed();
    statuses.push(all);
    return denyResult(aggregate(statuses), req);
  };

  return Object.freeze({
    authenticateNow,
    authenticate(rules: readonly JwtRulePlan[], req: InboundRequest): Promise<JwtResult> {
      try {
        return Promise.resolve(authenticateNow(rules, req));
      } catch (err) {
        return Promise.reject(err instanceof Error ? err : new Error(String(err)));
      }
    },
    close(): void {
      remote.close();
      cache.clear();
    },
  });
}

/**
 * The failed rules that read the token's location, in rule order: the first one's status and
 * the last status that is not `JwtUnknownIssuer` (a rule that does not read the location is
 * Envoy's `JwtMissed`, and is skipped).
 */
interface Failures {
  readonly first: JwtStatus | null;
  readonly lastReal: JwtStatus | null;
}

const NO_FAILURES: Failures = { first: null, lastReal: null };

function withFailure(f: Failures, status: JwtStatus): Failures {
  return {
    first: f.first ?? status,
    lastReal: status === 'JwtUnknownIssuer' ? f.lastReal : status,
  };
}

/**
 * The status Envoy answers when no rule accepts the token. Istio's requirement is
 * `OR(P1..Pn, AND(OR(P1, allow_missing)..OR(Pn, allow_missing)))` (one rule: `OR(P1,
 * allow_missing)`). The AND fails with the first rule that reads the location (it stops at its
 * first failing child). jwt_authn verifier.cc `AnyVerifierImpl::onComplete` then walks the outer
 * OR's children in order — P1..Pn, then the AND — and keeps the last status that is neither
 * `JwtMissed` nor `JwtUnknownIssuer`, else `JwtUnknownIssuer`. So: the first reading rule's
 * status unless it is `JwtUnknownIssuer`; then the last real error of any rule.
 */
function finalStatus(f: Failures): JwtStatus {
  if (f.first !== null && f.first !== 'JwtUnknownIssuer') return f.first;
  return f.lastReal ?? 'JwtUnknownIssuer';
}

/**
 * verifier.cc `AnyVerifierImpl::onComplete` over failed children in order: the last status that
 * is neither `JwtMissed` nor `JwtUnknownIssuer`, else `JwtUnknownIssuer` if any, else `JwtMissed`.
 */
function aggregate(statuses: readonly JwtStatus[]): JwtStatus {
  let final: JwtStatus = 'JwtMissed';
  for (const s of statuses) {
    if ((s !== 'JwtMissed' && s !== 'JwtUnknownIssuer') || final === 'JwtMissed') final = s;
  }
  return final;
}

/** Whether the request carries one of the rules' output headers (only a caller could have set it). */
function forgedOutput(plan: CompiledRules, req: InboundRequest): boolean {
  for (const h of plan.outputHeaders) if (req.headers[h] !== undefined) return true;
  return false;
}

/** jwt_verify_lib `Jwt::verifyTimeConstraint`: `nbf` and `exp` (when set) with the skew either side. */
function timeStatus(jwt: ParsedJwt, nowSec: number): JwtStatus | null {
  if (nowSec + CLOCK_SKEW_SECONDS < jwt.nbf) return 'JwtNotYetValid';
  if (jwt.exp !== 0 && nowSec > jwt.exp + CLOCK_SKEW_SECONDS) return 'JwtExpired';
  return null;
}

/** Envoy's filter.cc `isCorsPreflightRequest`; Istio sets `bypass_cors_preflight`. */
function isCorsPreflight(req: InboundRequest): boolean {
  return (
    req.method === 'OPTIONS' &&
    nonEmpty(req.headers['origin']) &&
    nonEmpty(req.headers['access-control-request-method'])
  );
}

function nonEmpty(v: string | readonly string[] | undefined): boolean {
  return v !== undefined && (typeof v === 'string' ? v !== '' : v.some((x) => x !== ''));
}

/**
 * A verified token's result. The token's header is removed unless `forwardOriginalToken`
 * (Envoy `JwtHeaderLocation::removeJwt`); a cookie token stays (Envoy: "TODO remove JWT from
 * cookies"). Every rule's output header is stripped and then added from this token, a line
 * per entry (several entries naming one header give it several lines).
 */
function okResult(plan: CompiledRules, rule: CompiledRule, jwt: ParsedJwt, location: TokenLocation): JwtOk {
  const lines = outputLines(rule.payloadHeader, rule.claimHeaders, jwt.payloadB64, jwt.payload);
  const setHeaders = Object.freeze(headersAsSeen(groupLines(lines)));
  const remove = new Set<string>();
  if (location.kind === 'header' && !rule.forwardOriginalToken) remove.add(location.name);
  for (const h of plan.outputHeaders) if (!(h in setHeaders)) remove.add(h);
  // Since Envoy 1.31 a query-parameter token is removed too (extractor.cc
  // JwtParamLocation::removeJwt, guard jwt_authn_remove_jwt_from_query_params).
  const removeParams =
    location.kind === 'param' && !rule.forwardOriginalToken ? Object.freeze([location.name]) : undefined;
  return Object.freeze({
    kind: 'ok',
    principal: jwt.sub === null ? null : `${jwt.iss}/${jwt.sub}`,
    ...(removeParams === undefined ? {} : { removeParams }),
    claims: normalizeClaims(jwt.payload, rule.spaceDelimited),
    issuer: jwt.iss,
    removeHeaders: Object.freeze([...remove]),
    setHeaders,
    outputLines: lines,
  });
}

function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
