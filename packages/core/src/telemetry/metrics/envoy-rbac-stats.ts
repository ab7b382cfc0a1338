import type { Registry } from 'prom-client';
import type { CompiledAuthorization } from '../../inbound/authz/compile-policies.js';
import type { RbacOutcome } from '../../inbound/authz/evaluate.js';
import { RBAC_METADATA, SHADOW_PREFIX } from '../../inbound/authz/rbac-metadata.js';
import type { RbacStatsSink } from '../../inbound/authz/rbac-stats-sink.js';
import { INBOUND_PASSTHROUGH_CLUSTER } from './destination-service.js';
import type { DestinationService } from './metric-event.js';
import { neverThrows } from '../never-throws.js';
import { SeriesStore, type Series } from './series-store.js';

/** The shadow engine results the DENY and ALLOW filters write (rbac-metadata.ts). */
const DENY_RESULT = `${SHADOW_PREFIX.DENY}shadow_engine_result`;
const ALLOW_RESULT = `${SHADOW_PREFIX.ALLOW}shadow_engine_result`;

/**
 * Envoy's RBAC filter stats as an Istio sidecar exposes them. istiod's bootstrap keeps
 * `rbac.allowed`, `rbac.denied`, `shadow_allowed` and `shadow_denied` in the Prometheus
 * exposition (pkg/bootstrap/config.go rbacEnvoyStatsMatcherInclusionSuffix) and turns their
 * name parts into tags (tools/packaging/common/envoy_bootstrap.json: `authz_enforce_result`,
 * `authz_dry_run_action`, `authz_dry_run_result`), so
 * `http.inbound_0.0.0.0_8080.rbac.istio_dry_run_deny_shadow_denied` is scraped as
 * `envoy_http_inbound_0_0_0_0_8080_rbac{authz_dry_run_action="deny",authz_dry_run_result="denied"}`.
 * The shadow filter in front of ext_authz (prefix `istio_ext_authz_`) matches no tag and
 * keeps its whole name. Every RBAC filter a request passes counts: with DENY and ALLOW
 * policies, an allowed request adds 2 to `authz_enforce_result="allowed"`.
 */
export function createEnvoyRbacStats(
  registry: Registry,
  inboundService: (port: number) => DestinationService,
): RbacStatsSink {
  const chains = new Map<string, ChainStats>();
  const byPort = new Map<number, { service: DestinationService; chain: ChainStats }>();
  const chainOf = (port: number): ChainStats => {
    const service = inboundService(port);
    const known = byPort.get(port);
    if (known !== undefined && known.service === service) return known.chain;
    // The inbound connection manager's stat prefix (listener_inbound.go StatPrefix): the
    // passthrough chain's cluster name for a port no Service declares.
    const prefix =
      service.name === INBOUND_PASSTHROUGH_CLUSTER ? INBOUND_PASSTHROUGH_CLUSTER : `inbound_0.0.0.0_${port}`;
    let chain = chains.get(prefix);
    if (chain === undefined) chains.set(prefix, (chain = new ChainStats(registry, prefix)));
    byPort.set(port, { service, chain });
    return chain;
  };
  return {
    rbac: neverThrows((port: number, authz: CompiledAuthorization, outcome: RbacOutcome) => {
      const e = authz.enforced;
      // The filters a refused request reached: all before the refusing one, and that one.
      const reachedAllow = outcome.allow || outcome.stage === 'allow';
      let allowed = e.audit ? 1 : 0; // LOG never refuses.
      if (e.deny && reachedAllow) allowed++;
      if (e.allow && outcome.allow) allowed++;
      const fields = outcome.metadata?.[RBAC_METADATA];
      if (allowed === 0 && outcome.allow && fields === undefined) return;
      const c = chainOf(port);
      if (allowed > 0) c.enforce('allowed', allowed);
      if (!outcome.allow) c.enforce('denied', 1);
      if (fields === undefined) return;
      const deny = fields[DENY_RESULT];
      if (typeof deny === 'string') c.dryRun('deny', deny);
      const allow = fields[ALLOW_RESULT];
      if (typeof allow === 'string') c.dryRun('allow', allow);
    }),
    custom: neverThrows((port: number, matched: boolean) =>
      chainOf(port).extAuthz(matched ? 'denied' : 'allowed'),
    ),
    // An enforcing RBAC filter like the others: its result joins authz_enforce_result.
    badCustom: neverThrows((port: number, denied: boolean) =>
      chainOf(port).enforce(denied ? 'denied' : 'allowed', 1),
    ),
  };
}

/** One inbound chain's RBAC stats, each series made when first counted. */
class ChainStats {
  readonly #family: SeriesStore;
  readonly #enforced = new Map<string, Series>();
  readonly #dryRun = new Map<string, Series>();
  readonly #extAuthz = new Map<string, Series>();
  readonly #registry: Registry;
  readonly #name: string;

  constructor(registry: Registry, prefix: string) {
    this.#registry = registry;
    // Envoy's Prometheus output: `envoy_` and the stat name, every other character `_`.
    this.#name = `envoy_http_${prefix.replace(/[^a-zA-Z0-9_]/g, '_')}_rbac`;
    this.#family = new SeriesStore({
      name: this.#name,
      help: "Envoy's RBAC filter results (authz_enforce_result; dry-run policies: authz_dry_run_*)",
      type: 'counter',
    }).register(registry);
  }

  /** `authz_enforce_result`: `allowed` or `denied`. */
  enforce(result: string, n: number): void {
    this.#family.addTo(this.#seriesOf(this.#enforced, result, { authz_enforce_result: result }), n);
  }

  dryRun(action: string, result: string): void {
    const labels = { authz_dry_run_action: action, authz_dry_run_result: result };
    this.#family.addTo(this.#seriesOf(this.#dryRun, `${action}:${result}`, labels), 1);
  }

  extAuthz(result: string): void {
    let s = this.#extAuthz.get(result);
    if (s === undefined || !s.live) {
      const store = new SeriesStore({
        name: `${this.#name}_istio_ext_authz_shadow_${result}`,
        help: "Envoy's RBAC shadow results of the filter in front of ext_authz (CUSTOM policies)",
        type: 'counter',
      }).register(this.#registry);
      s = store.series('', {});
      this.#extAuthz.set(result, s);
    }
    s.value++;
  }

  /** The family's series `key` of `cache`, made again after a registry reset dropped it. */
  #seriesOf(cache: Map<string, Series>, key: string, labels: Record<string, string>): Series {
    let s = cache.get(key);
    if (s === undefined || !s.live) cache.set(key, (s = this.#family.series(JSON.stringify(labels), labels)));
    return s;
  }
}
