import type { JwtRulePlan } from '../../compile/inbound-types.js';
import { toMs } from '../../compile/duration.js';
import { compileAudiences } from './audiences.js';
import { parseJwks } from './jwks.js';
import { ruleLocations } from './locations.js';
import type { TokenLocation } from './locations.js';
import { compileClaimHeaders } from './output-headers.js';
import type { ClaimHeader } from './output-headers.js';
import type { KeyState, RemoteSource } from './remote-jwks.js';
import { NONE } from './results.js';
import type { JwtResult } from './types.js';

/** JWKS fetch timeout when a rule sets none (istio `convertToEnvoyJwtConfig`: 5 s). */
export const DEFAULT_JWKS_TIMEOUT_MS = 5_000;

/** Claims always treated as space-delimited (istio `buildSpaceDelimitedClaims`). */
const DEFAULT_SPACE_DELIMITED = ['permission', 'scope'];

/** One `JWTRule`, prepared once per plan: an Envoy `JwtProvider` in effect. */
export interface CompiledRule {
  readonly plan: JwtRulePlan;
  /** '' = any issuer (a rule with only `jwksUri`), as Envoy's `JwtIssuerChecker`. */
  readonly issuer: string;
  readonly audiences: ReadonlySet<string> | null;
  readonly locations: readonly TokenLocation[];
  readonly locationKeys: ReadonlySet<string>;
  readonly forwardOriginalToken: boolean;
  readonly payloadHeader: string | null;
  readonly claimHeaders: readonly ClaimHeader[];
  readonly spaceDelimited: readonly string[];
  readonly keys:
    | { readonly kind: 'inline'; readonly state: KeyState }
    | { readonly kind: 'remote'; readonly source: RemoteSource };
}

/** Every rule of a plan, and the union of their token locations. */
export interface CompiledRules {
  readonly rules: readonly CompiledRule[];
  readonly locations: readonly TokenLocation[];
  /**
   * Every rule's output headers: Envoy strips them from each request before verifying
   * (extractor.cc `sanitizeHeaders`), so a client cannot forge `x-jwt-payload`.
   */
  readonly outputHeaders: readonly string[];
  /** The result for a request without a token: those headers stripped, no principal. */
  readonly none: JwtResult;
}

/**
 * Prepares the rules of one plan: locations, audiences, output headers, inline keys parsed
 * once. The rules are put in issuer order, as istiod sorts them before it names the providers
 * and builds the requirement (pilot/pkg/security/authn/policy_applier.go `newPolicyApplier`);
 * rules of one issuer keep their order.
 */
export function compileRules(plans: readonly JwtRulePlan[]): CompiledRules {
  const byKey = new Map<string, TokenLocation>();
  const outputs = new Set<string>();
  const byIssuer = [...plans].sort((a, b) => {
    const x = a.rule.issuer ?? '';
    const y = b.rule.issuer ?? '';
    return x < y ? -1 : x > y ? 1 : 0;
  });
  const rules = byIssuer.map((plan): CompiledRule => {
    const r = plan.rule;
    const locations = ruleLocations(r);
    for (const loc of locations) if (!byKey.has(loc.key)) byKey.set(loc.key, loc);
    const payloadHeader =
      r.outputPayloadToHeader === undefined || r.outputPayloadToHeader === ''
        ? null
        : r.outputPayloadToHeader.toLowerCase();
    const claimHeaders = compileClaimHeaders(r.outputClaimToHeaders);
    if (payloadHeader !== null) outputs.add(payloadHeader);
    for (const c of claimHeaders) outputs.add(c.header);
    const jwksUri = r.jwksUri ?? r.jwks_uri ?? '';
    const issuer = r.issuer ?? '';
    const keys: CompiledRule['keys'] =
      r.jwks !== undefined && r.jwks !== ''
        ? { kind: 'inline', state: inlineState(r.jwks) }
        : {
            kind: 'remote',
            source: Object.freeze({
              jwksUri: jwksUri === '' ? null : jwksUri,
              issuer,
              timeoutMs: toMs(r.timeout) ?? DEFAULT_JWKS_TIMEOUT_MS,
            }),
          };
    return Object.freeze({
      plan,
      issuer,
      audiences: compileAudiences(r.audiences),
      locations: Object.freeze(locations),
      locationKeys: new Set(locations.map((l) => l.key)),
      forwardOriginalToken: r.forwardOriginalToken === true,
      payloadHeader,
      claimHeaders,
      spaceDelimited: Object.freeze([
        ...new Set([...(r.spaceDelimitedClaims ?? []), ...DEFAULT_SPACE_DELIMITED]),
      ]),
      keys: Object.freeze(keys),
    });
  });
  return Object.freeze({
    rules: Object.freeze(rules),
    locations: Object.freeze([...byKey.values()]),
    outputHeaders: Object.freeze([...outputs]),
    none:
      outputs.size === 0 ? NONE : Object.freeze({ kind: 'none', removeHeaders: Object.freeze([...outputs]) }),
  });
}

function inlineState(jwks: string): KeyState {
  const keys = parseJwks(jwks);
  return Object.freeze(keys === null ? { kind: 'invalid' } : { kind: 'keys', keys });
}
