import { neverThrows } from '../never-throws.js';
import { Counter, Gauge, Registry } from 'prom-client';

/**
 * meshlet's own state metrics: what Envoy reports as cluster and listener stats
 * (`cluster.<name>.upstream_rq_pending_overflow`, `outlier_detection.ejections_*`,
 * `upstream_rq_retry`, `http_local_rate_limit.rate_limited`, `rbac.denied`) plus the
 * agent's certificate and config state. Names, labels and meaning:
 *
 * | metric | type | labels | meaning |
 * |---|---|---|---|
 * | `meshlet_upstream_rq_pending_overflow_total` | counter | cluster | requests refused by connection-pool limits (503 `UO`) |
 * | `meshlet_outlier_ejections_total` | counter | cluster | endpoints ejected by outlier detection (Envoy `ejections_enforced_total`) |
 * | `meshlet_outlier_ejected_endpoints` | gauge | cluster | endpoints ejected right now (Envoy `ejections_active`) |
 * | `meshlet_upstream_rq_retry_total` | counter | cluster | retries made (not counting first tries) |
 * | `meshlet_upstream_rq_retry_limit_exceeded_total` | counter | cluster | calls that gave up with retries left to want (`URX`) |
 * | `meshlet_upstream_rq_retry_overflow_total` | counter | cluster | retries refused by `maxRetries` / `retryBudget` (Envoy `upstream_rq_retry_overflow`, flag `UO`) |
 * | `meshlet_ratelimited_requests_total` | counter | port | inbound requests refused by a rate limit filter: local (429 `RL`) or global (429 `RL`, or `RLSE` under `failure_mode_deny`) |
 * | `meshlet_authz_denied_total` | counter | policy, action | inbound requests denied by authorization; policy `ns/name`, or `-` for ALLOW with no match |
 * | `meshlet_config_reloads_total` | counter | | config reloads that produced a new plan |
 * | `meshlet_config_reload_failures_total` | counter | | reloads rejected (the last good plan stays) |
 * | `meshlet_config_last_reload_success_timestamp_seconds` | gauge | | when the running plan was loaded |
 * | `meshlet_cert_expiry_timestamp_seconds` | gauge | cert | `notAfter` of the workload (`workload`) and root (`root`) certificates |
 */
export interface MeshletMetrics {
  readonly registry: Registry;
  poolOverflow(cluster: string): void;
  outlierEjection(cluster: string): void;
  ejectedEndpoints(cluster: string, count: number): void;
  /** `count` retries made by one call (default 1). */
  retry(cluster: string, count?: number): void;
  retryLimitExceeded(cluster: string): void;
  retryOverflow(cluster: string): void;
  rateLimited(port: number): void;
  /** `policy` is `ns/name`; null for an ALLOW-list miss. `action`: ALLOW, DENY or CUSTOM. */
  authzDenied(policy: string | null, action: 'ALLOW' | 'DENY' | 'CUSTOM'): void;
  configReloaded(epochMs: number): void;
  configReloadFailed(): void;
  /** `notAfter` in epoch ms. */
  certificateExpiry(cert: 'workload' | 'root', notAfterMs: number): void;
}

/** Register meshlet's state metrics. Every method is safe to call on the hot path and never throws. */
export function createMeshletMetrics(options: { readonly registry?: Registry } = {}): MeshletMetrics {
  const registry = options.registry ?? new Registry();
  const registers = [registry];
  const counter = (name: string, help: string, labelNames: string[] = []) => {
    const old = registry.getSingleMetric(name);
    if (old !== undefined) registry.removeSingleMetric(name);
    return new Counter({ name, help, labelNames, registers });
  };
  const gauge = (name: string, help: string, labelNames: string[] = []) => {
    const old = registry.getSingleMetric(name);
    if (old !== undefined) registry.removeSingleMetric(name);
    return new Gauge({ name, help, labelNames, registers });
  };
  const overflow = counter(
    'meshlet_upstream_rq_pending_overflow_total',
    'Requests refused by connection-pool limits (503 UO)',
    ['cluster'],
  );
  const ejections = counter('meshlet_outlier_ejections_total', 'Endpoints ejected by outlier detection', [
    'cluster',
  ]);
  const ejected = gauge(
    'meshlet_outlier_ejected_endpoints',
    'Endpoints currently ejected by outlier detection',
    ['cluster'],
  );
  const retries = counter('meshlet_upstream_rq_retry_total', 'Retries made to upstream clusters', [
    'cluster',
  ]);
  const retryLimit = counter(
    'meshlet_upstream_rq_retry_limit_exceeded_total',
    'Calls that ran out of retries (URX)',
    ['cluster'],
  );
  const retryOverflow = counter(
    'meshlet_upstream_rq_retry_overflow_total',
    'Retries refused by maxRetries or the retry budget (UO)',
    ['cluster'],
  );
  const rateLimited = counter(
    'meshlet_ratelimited_requests_total',
    'Inbound requests refused by a local or global rate limit filter (429 RL, or RLSE)',
    ['port'],
  );
  const denied = counter('meshlet_authz_denied_total', 'Inbound requests denied by authorization policy', [
    'policy',
    'action',
  ]);
  const reloads = counter('meshlet_config_reloads_total', 'Configuration reloads that produced a new plan');
  const reloadFailures = counter(
    'meshlet_config_reload_failures_total',
    'Configuration reloads rejected; the last good plan stays',
  );
  const lastReload = gauge(
    'meshlet_config_last_reload_success_timestamp_seconds',
    'When the running plan was loaded, in seconds since the epoch',
  );
  const certExpiry = gauge(
    'meshlet_cert_expiry_timestamp_seconds',
    'Certificate notAfter, in seconds since the epoch',
    ['cert'],
  );
  const safe = neverThrows;
  return Object.freeze({
    registry,
    poolOverflow: safe((cluster: string) => overflow.inc({ cluster })),
    outlierEjection: safe((cluster: string) => ejections.inc({ cluster })),
    ejectedEndpoints: safe((cluster: string, count: number) => ejected.set({ cluster }, count)),
    retry: safe((cluster: string, count?: number) => retries.inc({ cluster }, count ?? 1)),
    retryLimitExceeded: safe((cluster: string) => retryLimit.inc({ cluster })),
    retryOverflow: safe((cluster: string) => retryOverflow.inc({ cluster })),
    rateLimited: safe((port: number) => rateLimited.inc({ port: String(port) })),
    authzDenied: safe((policy: string | null, action: 'ALLOW' | 'DENY' | 'CUSTOM') =>
      denied.inc({ policy: policy ?? '-', action }),
    ),
    configReloaded: safe((epochMs: number) => {
      reloads.inc();
      lastReload.set(epochMs / 1000);
    }),
    configReloadFailed: safe(() => reloadFailures.inc()),
    certificateExpiry: safe((cert: 'workload' | 'root', notAfterMs: number) =>
      certExpiry.set({ cert }, notAfterMs / 1000),
    ),
  });
}
