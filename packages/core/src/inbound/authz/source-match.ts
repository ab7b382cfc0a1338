import { RE2JS } from 're2js';
import type { AuthzInput } from './input.js';
import { istioString, quoteMeta } from './string-match.js';

/** A compiled test of one request. */
export type Match = (input: AuthzInput) => boolean;

const SPIFFE = 'spiffe://';

/**
 * Whether `test` holds for a name of the peer's certificate. Envoy's `authenticated`
 * principal matcher, on which Istio builds every peer identity field (authz/model
 * principal.go principalAuthenticated), tries each URI SAN, then each DNS SAN (rbac
 * matchers.cc AuthenticatedMatcher): a certificate with two identities matches either.
 * Without `peerNames` the peer's SPIFFE URI is the certificate's only name.
 */
function anyPeerName(i: AuthzInput, test: (name: string) => boolean): boolean {
  const names = i.peerNames;
  if (names === undefined) return i.peerUri !== null && test(i.peerUri);
  for (let k = 0; k < names.length; k++) if (test(names[k] as string)) return true;
  return false;
}

/**
 * `principals` / `source.principal`: Envoy `authenticated.principal_name` against
 * `spiffe://<value>` for each name of the peer certificate; `*` (regex `.+`) is any
 * verified peer. No certificate → never matches.
 */
export function principalMatch(value: string): Match {
  const t = istioString(value);
  if (value === '*') return (i) => i.peer !== null;
  const spiffe = (name: string) => name.startsWith(SPIFFE) && t(name.slice(SPIFFE.length));
  return (i) => {
    if (i.peer === null) return false;
    return i.peerNames === undefined ? t(i.peer.principal) : anyPeerName(i, spiffe);
  };
}

/**
 * `namespaces` / `source.namespace`: regex `.*\/ns/<value>/.*` over each name of the peer
 * certificate (a URI SAN that is not a SPIFFE ID too), each `*` in the value becoming
 * `.*` (istio authz/model/generator.go).
 */
export function namespaceMatch(value: string): Match {
  if (!value.includes('*')) {
    const needle = `/ns/${value}/`;
    const has = (name: string) => name.includes(needle);
    return (i) => i.peer !== null && anyPeerName(i, has);
  }
  const re = RE2JS.compile(`.*/ns/${quoteMeta(value).replace(/\\\*/g, '.*')}/.*`);
  const matches = (name: string) => re.matches(name);
  return (i) => i.peer !== null && anyPeerName(i, matches);
}

/**
 * `serviceAccounts` / `source.serviceAccount`: `ns/sa`, or `sa` in the policy's
 * namespace, matched as `spiffe://.+/ns/<ns>/(.+/|)sa/<sa>(/.+)?` over each name of the
 * peer certificate, with the names quoted (the CVE-2026-39350 fix: a `.` is a dot, not
 * any character).
 */
export function serviceAccountMatch(value: string, policyNamespace: string): Match {
  const slash = value.indexOf('/');
  const ns = slash < 0 ? policyNamespace : value.slice(0, slash);
  const sa = slash < 0 ? value : value.slice(slash + 1);
  const re = RE2JS.compile(`spiffe://.+/ns/${quoteMeta(ns)}/(.+/|)sa/${quoteMeta(sa)}(/.+)?`);
  const matches = (name: string) => re.matches(name);
  return (i) => i.peer !== null && anyPeerName(i, matches);
}

/**
 * `trustDomains` / `source.trustDomain`: the trust domain of a SPIFFE ID among the peer
 * certificate's names, as Envoy's prefix `spiffe://<td>/` (or regex `spiffe://<td>/.*`;
 * `*` is the prefix `spiffe://`) reads it (istio generator.go srcTrustDomainGenerator).
 */
export function trustDomainMatch(value: string): Match {
  const t = istioString(value);
  const any = value === '*';
  const spiffe = (name: string): boolean => {
    if (!name.startsWith(SPIFFE)) return false;
    if (any) return true;
    const slash = name.indexOf('/', SPIFFE.length);
    return slash >= 0 && t(name.slice(SPIFFE.length, slash));
  };
  return (i) => {
    if (i.peer === null) return false;
    return i.peerNames === undefined ? t(i.peer.trustDomain) : anyPeerName(i, spiffe);
  };
}

function claimString(claims: Readonly<Record<string, unknown>> | null, name: string): string | null {
  const v = claims?.[name];
  return typeof v === 'string' ? v : null;
}

const nonEmpty = (v: string) => v.length > 0;

/**
 * `requestPrincipals` / `request.auth.principal`: split at the last `/` (an issuer
 * may be a URL), `iss` and `sub` matched separately (istio generator.go
 * `requestPrincipalGenerator`). A token without `sub` never matches, not even `*`.
 */
export function requestPrincipalMatch(value: string): Match {
  const idx = value.lastIndexOf('/');
  const found = idx >= 0;
  const iss = found ? value.slice(0, idx) : value;
  const sub = found ? value.slice(idx + 1) : '';
  let matchIss: (v: string) => boolean;
  let matchSub: (v: string) => boolean;
  if (value === '*') {
    matchIss = nonEmpty;
    matchSub = nonEmpty;
  } else if (value.startsWith('*')) {
    if (found) {
      matchIss = iss === '*' ? nonEmpty : istioString(iss);
      matchSub = (v) => v === sub;
    } else {
      matchIss = nonEmpty;
      matchSub = istioString(value);
    }
  } else if (value.endsWith('*')) {
    if (found) {
      matchIss = (v) => v === iss;
      matchSub = sub === '*' ? nonEmpty : istioString(sub);
    } else {
      matchIss = istioString(value);
      matchSub = nonEmpty;
    }
  } else {
    matchIss = (v) => v === iss;
    matchSub = (v) => v === sub;
  }
  return (i) => {
    const is = claimString(i.claims, 'iss');
    const su = claimString(i.claims, 'sub');
    return is !== null && su !== null && matchIss(is) && matchSub(su);
  };
}
