import type { FieldPath } from '../diagnostic.js';
import type { ValidationContext } from '../validate/context.js';
import { checkHostname, checkPartialWildcard, isIstioDnsLabel } from './networking-common-rules.js';

/**
 * Sidecar `egress[].hosts` entries `ns/dnsName` (istio pkg/config/validation/validation.go
 * `ValidateSidecar`, agent `ValidateNamespaceSlashWildcardHostname` with isGateway=false).
 */
export function validateSidecarEgressHosts(
  hosts: readonly string[],
  path: FieldPath,
  ctx: ValidationContext,
): void {
  if (hosts.length === 0) {
    ctx.error(path, 'sidecar: egress listener must contain at least one host');
    return;
  }
  const byNs = new Map<string, Set<string>>();
  for (const [i, hostname] of hosts.entries()) {
    const at: FieldPath = [...path, i];
    const slash = hostname.indexOf('/');
    if (slash < 0) {
      ctx.error(at, 'host must be of form namespace/dnsName');
      continue;
    }
    const rawNs = hostname.slice(0, slash);
    const svc = hostname.slice(slash + 1);
    if (!rawNs.startsWith('~')) {
      const ns = rawNs === '.' ? ctx.namespace : rawNs;
      const seen = byNs.get(ns) ?? new Set<string>();
      byNs.set(ns, seen);
      if (svc !== '*' ? seen.has(svc) || seen.has('*') : seen.size > 0) {
        ctx.warn(at, `duplicated egress host: ${hostname}`);
      }
      seen.add(svc);
    }
    if (rawNs === '' || svc === '')
      ctx.error(at, 'config namespace and dnsName in host entry cannot be empty');
    const ns = rawNs.startsWith('~') ? rawNs.slice(1) : rawNs;
    if (ns !== '' && ns !== '*' && ns !== '.' && !isIstioDnsLabel(ns)) {
      ctx.error(at, `invalid namespace value ${JSON.stringify(rawNs)} in sidecar`);
    }
    if (svc !== '*' && !svc.includes('.')) ctx.error(at, 'short names (non FQDN) are not allowed');
    const problem = checkHostname(svc);
    if (problem !== null) ctx.error(at, problem);
    const partial = checkPartialWildcard(svc);
    if (partial !== null) ctx.error(at, partial);
  }
  if (byNs.get('*')?.has('*') === true && byNs.size !== 1) {
    ctx.warn(path, '`*/*` host select all resources, no other hosts can be added');
  }
}
