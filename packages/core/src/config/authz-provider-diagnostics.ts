import type { AuthorizationPolicySpec } from './schema/authorization-policy.js';
import type { Diagnostic } from './diagnostic.js';
import { toDiagnostic } from './documents.js';
import { isExtAuthzProviderType } from './ext-authz-provider-config.js';
import type { MeshConfig } from './mesh-config.js';
import type { Resource } from './resource.js';

/**
 * Warnings for CUSTOM AuthorizationPolicies whose `provider.name` is not an ext_authz
 * provider in meshConfig `extensionProviders`. istiod accepts such a policy and builds a
 * deny of every request its rules match (authz/builder `deny-due-to-bad-CUSTOM-action`);
 * meshlet does the same, and says so here with the policy's file and line rather than
 * only at request time.
 */
export function authzProviderDiagnostics(
  resources: readonly Resource[],
  mesh: Pick<MeshConfig, 'extensionProviders'>,
): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const r of resources) {
    if (r.kind !== 'AuthorizationPolicy') continue;
    const spec = r.spec as AuthorizationPolicySpec;
    if (spec.action !== 'CUSTOM' || spec.provider?.name === undefined) continue;
    const name = spec.provider.name;
    const p = mesh.extensionProviders.find((x) => x.name === name);
    if (p !== undefined && isExtAuthzProviderType(p.type)) continue;
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
