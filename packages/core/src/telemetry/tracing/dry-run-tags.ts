import type { Span } from '@opentelemetry/api';
import type { AccessLogEntry } from '../access-log/entry.js';

/**
 * Istio's `optionalPolicyTags` (pilot/pkg/networking/core/tracing.go), on every span when
 * Istio's tags are on: metadata custom tags reading the RBAC filters' dry-run results from
 * `envoy.filters.http.rbac`, set only when the metadata holds the key (no default value).
 */
const TAGS: readonly (readonly [tag: string, key: string])[] = [
  ['istio.authorization.dry_run.allow_policy.name', 'istio_dry_run_allow_shadow_effective_policy_id'],
  ['istio.authorization.dry_run.allow_policy.result', 'istio_dry_run_allow_shadow_engine_result'],
  ['istio.authorization.dry_run.deny_policy.name', 'istio_dry_run_deny_shadow_effective_policy_id'],
  ['istio.authorization.dry_run.deny_policy.result', 'istio_dry_run_deny_shadow_engine_result'],
];

export function setDryRunTags(span: Span, entry: AccessLogEntry | null): void {
  const rbac = entry?.dynamicMetadata?.['envoy.filters.http.rbac'];
  if (typeof rbac !== 'object' || rbac === null) return;
  for (const [tag, key] of TAGS) {
    const v = (rbac as Readonly<Record<string, unknown>>)[key];
    if (typeof v === 'string') span.setAttribute(tag, v);
  }
}
