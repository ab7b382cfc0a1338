import type { CompiledPolicy } from './compile-policies.js';
import type { AuthzInput } from './input.js';
import type { DynamicMetadata } from '../dynamic-metadata.js';
import { MetadataWriter } from './rbac-metadata.js';

/** The metadata prefix of the RBAC filter in front of each ext_authz (authz/model/model.go). */
const EXT_AUTHZ_PREFIX = 'istio_ext_authz_';

/**
 * The id Envoy reports for the CUSTOM policies of `provider` that match: the least rule id
 * (CompiledPolicy.leastMatch), named `istio-ext-authz-<provider>-ns[...]-policy[...]-rule[k]`
 * (authz/builder builder.go policyName); null when none matches.
 */
export function customMatchId(
  provider: string,
  policies: readonly CompiledPolicy[],
  input: AuthzInput,
): string | null {
  let id: string | null = null;
  for (const p of policies) {
    if (p.dryRun) continue;
    const k = p.leastMatch(input);
    if (k < 0) continue;
    const name = `istio-ext-authz-${provider}-${p.envoyName(k)}`;
    if (id === null || name < id) id = name;
  }
  return id;
}

/**
 * What the shadow RBAC filter istiod puts before one provider's ext_authz writes
 * (authz/builder builder.go buildHTTP: the provider's CUSTOM policies as the shadow rules
 * of a DENY filter, prefix `istio_ext_authz_`): `denied` and the matched rule's id
 * ({@link customMatchId}) when one matches, which is what makes ext_authz check the
 * request; `allowed` otherwise.
 */
export function customShadowMetadata(matchedId: string | null): DynamicMetadata {
  const w = new MetadataWriter();
  w.shadow(EXT_AUTHZ_PREFIX, matchedId === null, matchedId);
  return w.done() as DynamicMetadata;
}
