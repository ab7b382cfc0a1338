import type { AuthorizationPolicyPlan } from '../../compile/inbound-types.js';
import type { Condition, Operation, Source } from '../../config/schema/authorization-policy.js';

/**
 * One request attribute an AuthorizationPolicy matcher reads, named after the
 * `AuthzInput` field (compile-rule.ts, source-match.ts, claims.ts) that reads it.
 */
export type Attribute =
  | { readonly kind: 'path' | 'method' | 'host' | 'port' | 'sni' | 'claims' }
  | { readonly kind: 'peerPrincipal' | 'peerUri' | 'peerTrustDomain' }
  | { readonly kind: 'sourceIp' | 'remoteIp' | 'destinationIp' }
  | { readonly kind: 'header'; readonly name: string };

type SimpleKind = Exclude<Attribute['kind'], 'header'>;

/** The attribute each `Source` field's matcher reads (compile-rule.ts compileSource). */
const SOURCE_FIELDS: Readonly<Record<keyof Source, SimpleKind>> = {
  principals: 'peerPrincipal',
  notPrincipals: 'peerPrincipal',
  requestPrincipals: 'claims',
  notRequestPrincipals: 'claims',
  namespaces: 'peerUri',
  notNamespaces: 'peerUri',
  serviceAccounts: 'peerUri',
  notServiceAccounts: 'peerUri',
  ipBlocks: 'sourceIp',
  notIpBlocks: 'sourceIp',
  remoteIpBlocks: 'remoteIp',
  notRemoteIpBlocks: 'remoteIp',
  trustDomains: 'peerTrustDomain',
  notTrustDomains: 'peerTrustDomain',
};

/** The attribute each `Operation` field's matcher reads (compile-rule.ts compileOperation). */
const OPERATION_FIELDS: Readonly<Record<keyof Operation, SimpleKind>> = {
  paths: 'path',
  notPaths: 'path',
  methods: 'method',
  notMethods: 'method',
  hosts: 'host',
  notHosts: 'host',
  ports: 'port',
  notPorts: 'port',
};

/** The attribute each `when` key reads (compile-rule.ts conditionValue). */
const CONDITION_KEYS: Readonly<Record<string, SimpleKind>> = {
  'source.ip': 'sourceIp',
  'remote.ip': 'remoteIp',
  'destination.ip': 'destinationIp',
  'destination.port': 'port',
  'source.namespace': 'peerUri',
  'source.principal': 'peerPrincipal',
  'source.serviceAccount': 'peerUri',
  'source.trustDomain': 'peerTrustDomain',
  'request.auth.principal': 'claims',
  'request.auth.audiences': 'claims',
  'request.auth.presenter': 'claims',
  'connection.sni': 'sni',
};

const own = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

/** The attribute a `when` key reads; `none` for one that reads nothing; null when unknown. */
function conditionAttribute(c: Condition): Attribute | 'none' | null {
  const key = c.key;
  if (key.startsWith('request.headers[') && key.endsWith(']'))
    return { kind: 'header', name: key.slice('request.headers['.length, -1).toLowerCase() };
  if (own(CONDITION_KEYS, key)) return { kind: CONDITION_KEYS[key] as SimpleKind };
  if (key.startsWith('request.auth.claims')) return { kind: 'claims' };
  // Envoy dynamic metadata from other filters: never present in-process (compile-rule.ts).
  if (key.startsWith('experimental.envoy.filters.')) return 'none';
  return null;
}

/** Adds the attributes `fields` maps for each key set on `o`; false when a key is unknown. */
function addFields(
  o: object,
  fields: Readonly<Record<string, SimpleKind>>,
  out: Map<string, Attribute>,
): boolean {
  for (const k of Object.keys(o)) {
    if ((o as Record<string, unknown>)[k] === undefined) continue;
    if (!own(fields, k)) return false;
    const kind = fields[k] as SimpleKind;
    out.set(kind, { kind });
  }
  return true;
}

/**
 * Every request attribute the rules of `policies` can read, or null when a rule reads
 * something this list does not know (then no decision may be reused). Built from the
 * policy specs, not from the compiled matchers: a field or key added to the matchers
 * and not here makes the footprint null, never a smaller one.
 */
export function rbacFootprint(policies: readonly AuthorizationPolicyPlan[]): readonly Attribute[] | null {
  const out = new Map<string, Attribute>();
  for (const p of policies) {
    for (const rule of p.rules ?? []) {
      for (const k of Object.keys(rule)) if (k !== 'from' && k !== 'to' && k !== 'when') return null;
      for (const f of rule.from ?? []) {
        if (Object.keys(f).some((k) => k !== 'source')) return null;
        if (f.source !== undefined && !addFields(f.source, SOURCE_FIELDS, out)) return null;
      }
      for (const t of rule.to ?? []) {
        if (Object.keys(t).some((k) => k !== 'operation')) return null;
        if (t.operation !== undefined && !addFields(t.operation, OPERATION_FIELDS, out)) return null;
      }
      for (const c of rule.when ?? []) {
        const a = conditionAttribute(c);
        if (a === null) return null;
        if (a === 'none') continue;
        out.set(a.kind === 'header' ? `header:${a.name}` : a.kind, a);
      }
    }
  }
  return [...out.values()];
}
