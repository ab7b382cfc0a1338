import type { AuthorizationPolicySpec } from './schema/authorization-policy.js';
import type { Diagnostic } from './diagnostic.js';
import { toDiagnostic } from './documents.js';
import { isExtAuthzProviderType } from './ext-authz-provider-config.js';
import type { MeshConfig } from './mesh-config.js';
import type { Resource } from './resource.js';
import type { PlatformResource } from './snapshot.js';

/** The hosts of the config's Services and ServiceEntries, each with the namespaces defining it. */
function registryHosts(
  resources: readonly Resource[],
  platform: readonly PlatformResource[],
): Map<string, Set<string>> {
  const hosts = new Map<string, Set<string>>();
  const add = (host: string, namespace: string): void => {
    const set = hosts.get(host) ?? new Set<string>();
    set.add(namespace);
    hosts.set(host, set);
  };
  for (const p of platform)
    if (p.kind === 'Service')
      add(`${p.metadata.name}.${p.metadata.namespace}.svc.cluster.local`, p.metadata.namespace);
  for (const r of resources) {
    if (r.kind !== 'ServiceEntry') continue;
    const list = (r.spec as { hosts?: unknown }).hosts;
    if (Array.isArray(list)) for (const h of list) if (typeof h === 'string') add(h, r.metadata.namespace);
  }
  return hosts;
}

/**
 * Why istiod's LookupCluster would fail for `service`, or null when it finds it: a
 * `<namespace>/<host>` needs that namespace, a bare host exactly one.
 */
function lookupProblem(service: string, hosts: ReadonlyMap<string, ReadonlySet<string>>): string | null {
  const slash = service.indexOf('/');
  const namespaces = hosts.get(slash < 0 ? service : service.slice(slash + 1));
  if (slash < 0 && namespaces !== undefined && namespaces.size > 1)
    return `which is defined in several namespaces (${[...namespaces].sort().join(', ')}). istiod rejects such a provider and denies every request this CUSTOM policy's rules match; meshlet sends the checks to the service it sees. Name it as <namespace>/<host>`;
  if (namespaces !== undefined && (slash < 0 || namespaces.has(service.slice(0, slash)))) return null;
  return "which no Service or ServiceEntry in the config defines. istiod rejects such a provider and denies every request this CUSTOM policy's rules match; meshlet sends the checks directly by DNS, in plaintext (no DestinationRule, no mTLS). Add the service's Service or a ServiceEntry (or give its endpoints to createMesh({ endpoints }))";
}

/**
 * Warnings for CUSTOM AuthorizationPolicies whose `provider.name` is not an ext_authz
 * provider in meshConfig `extensionProviders`. istiod accepts such a policy and builds a
 * deny of every request its rules match (authz/builder `deny-due-to-bad-CUSTOM-action`);
 * meshlet does the same, and says so here with the policy's file and line rather than
 * only at request time. A provider whose `service` is no Service or ServiceEntry in the
 * config is a warning too: istiod's LookupCluster fails, so Istio denies those requests,
 * while meshlet reaches the service by DNS (pilot/pkg/model/telemetry_logging.go).
 */
export function authzProviderDiagnostics(
  resources: readonly Resource[],
  mesh: Pick<MeshConfig, 'extensionProviders'>,
  platform: readonly PlatformResource[] = [],
): Diagnostic[] {
  const out: Diagnostic[] = [];
  const hosts = registryHosts(resources, platform);
  for (const r of resources) {
    if (r.kind !== 'AuthorizationPolicy') continue;
    const spec = r.spec as AuthorizationPolicySpec;
    if (spec.action !== 'CUSTOM' || spec.provider?.name === undefined) continue;
    const name = spec.provider.name;
    const p = mesh.extensionProviders.find((x) => x.name === name);
    if (p !== undefined && isExtAuthzProviderType(p.type)) {
      const service = p.config['service'];
      const problem = typeof service === 'string' && service !== '' ? lookupProblem(service, hosts) : null;
      if (problem !== null)
        out.push(
          toDiagnostic(
            {
              code: 'IST0101',
              level: 'Warning',
              path: ['spec', 'provider', 'name'],
              message: `extension provider ${JSON.stringify(name)} names service ${JSON.stringify(service)}, ${problem}`,
            },
            r.origin.file,
            r.origin,
            { kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name },
          ),
        );
      continue;
    }
    out.push(
      toDiagnostic(
        {
          code: 'IST0101',
          level: 'Warning',
          path: ['spec', 'provider', 'name'],
          message:
            p === undefined
              ? `Referenced extension provider not found: ${JSON.stringify(name)}. Every request this CUSTOM policy's rules match is denied (403), as istiod builds it; define it in meshConfig extensionProviders`
              : `extension provider ${JSON.stringify(name)} is ${p.type}, not envoyExtAuthzHttp or envoyExtAuthzGrpc: every request this CUSTOM policy's rules match is denied (403), as istiod builds it`,
        },
        r.origin.file,
        r.origin,
        { kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name },
      ),
    );
  }
  return out;
}
