import type { Match } from './source-match.js';
import type { StringTest } from './string-match.js';

/**
 * Claims every JWT rule's provider splits on spaces (istio pilot/pkg/security/authn
 * policy_applier.go buildSpaceDelimitedClaims always adds them), so splitting them here
 * changes nothing for a verified token's claims and keeps claims not yet normalized right.
 */
const SPACE_DELIMITED = ['scope', 'permission'];

/**
 * `request.auth.claims[a][b]` names → `['a', 'b']` (istio authz/model/util.go
 * `extractNameInNestedBrackets`); null when the key is malformed.
 */
export function claimPath(key: string): string[] | null {
  const m = /^\[(.+)\]$/.exec(key);
  if (m === null) return null;
  const parts = (m[1] as string).split('][');
  return parts.every((p) => p !== '' && !p.includes('[') && !p.includes(']')) ? parts : null;
}

function lookup(claims: Readonly<Record<string, unknown>>, path: readonly string[]): unknown {
  let v: unknown = claims;
  for (const p of path) {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[p];
  }
  return v;
}

/**
 * A claim matcher (istio `MetadataListValueMatcherForJWTClaims`): a string claim
 * matches, or a list with any matching string element; a bool, number or object
 * never matches (istio/istio#39703). A rule's `spaceDelimitedClaims` are already lists in
 * the claims of the tokens that rule verified (jwt/output-headers.ts normalizeClaims), and
 * only there: Envoy normalizes per provider (jwt_authn authenticator.cc
 * setPayloadMetadata) and its RBAC metadata matcher splits nothing, so another rule's
 * token keeps such a claim as one string. `scope` and `permission` are split here too.
 */
export function claimMatch(path: readonly string[], tests: readonly StringTest[]): Match {
  const split = path.length === 1 && SPACE_DELIMITED.includes(path[0] as string);
  const one = (s: string) => tests.some((t) => t(s));
  return (i) => {
    if (i.claims === null) return false;
    const v = lookup(i.claims, path);
    if (typeof v === 'string') return split ? v.split(' ').some((s) => s !== '' && one(s)) : one(v);
    if (Array.isArray(v)) return v.some((e) => typeof e === 'string' && one(e));
    return false;
  };
}
