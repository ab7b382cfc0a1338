import { RE2JS } from 're2js';
import type { AuthzInput } from './input.js';
import { istioString, quoteMeta } from './string-match.js';

/** A compiled test of one request. */
export type Match = (input: AuthzInput) => boolean;

/**
 * `principals` / `source.principal`: Envoy `authenticated.principal_name` against
 * `spiffe://<value>`; `*` is any verified peer. No certificate → never matches.
 */
export function principalMatch(value: string): Match {
  const t = istioString(value);
  return (i) => i.peer !== null && t(i.peer.principal);
}

/**
 * `namespaces` / `source.namespace`: regex `.*\/ns/<value>/.*` over the peer URI,
 * each `*` in the value becoming `.*` (istio authz/model/generator.go).
 */
export function namespaceMatch(value: string): Match {
  if (!value.includes('*')) {
    const needle = `/ns/${value}/`;
    return (i) => i.peerUri !== null && i.peerUri.includes(needle);
  }
  const re = RE2JS.compile(`.*/ns/${quoteMeta(value).replace(/\\\*/g, '.*')}/.*`);
  return (i) => i.peerUri !== null && re.matches(i.peerUri);
}

/**
 * `serviceAccounts` / `source.serviceAccount`: `ns/sa`, or `sa` in the policy's
 * namespace, matched as `spiffe://.+/ns/<ns>/(.+/|)sa/<sa>(/.+)?` with the names
 * quoted (the CVE-2026-39350 fix: a `.` is a dot, not any character).
 */
export function serviceAccountMatch(value: string, policyNamespace: string): Match {
  const slash = value.indexOf('/');
  const ns = slash < 0 ? policyNamespace : value.slice(0, slash);
  const sa = slash < 0 ? value : value.slice(slash + 1);
  const re = RE2JS.compile(`spiffe://.+/ns/${quoteMeta(ns)}/(.+/|)sa/${quoteMeta(sa)}(/.+)?`);
  return (i) => i.peerUri !== null && re.matches(i.peerUri);
}

/** `trustDomains` / `source.trustDomain`: the peer's trust domain (prefix `spiffe://<td>/`). */
export function trustDomainMatch(value: string): Match {
  const t = istioString(value);
  return (i) => i.peer !== null && t(i.peer.trustDomain);
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
