import { parseGoBool } from '../config/validate/go-bool.js';

/**
 * The istiod feature flags meshlet honours, which istiod reads from its own environment
 * (pilot/pkg/features). meshlet compiles the configuration in the service's process, so it
 * reads the same variables from the process's environment unless `createMesh` is given them.
 */
export interface IstiodFeatures {
  /**
   * `PILOT_ENABLE_MULTIPLE_CUSTOM_AUTHZ_PROVIDERS` (Istio 1.30, default false; features/security.go):
   * CUSTOM AuthorizationPolicies of one workload may name several providers, each asked for
   * its own policies' requests. Off, several providers turn every CUSTOM policy into a deny.
   */
  readonly enableMultipleCustomAuthzProviders: boolean;
  /**
   * `PILOT_ENABLE_METADATA_EXCHANGE` (default true; features/telemetry.go): TCP over Istio
   * mTLS offers and selects ALPN `istio-peer-exchange` and exchanges workload metadata.
   */
  readonly metadataExchange: boolean;
  /**
   * `PILOT_DISABLE_MX_ALPN` (default false; features/pilot.go): `istio-peer-exchange` left
   * out of the ALPN lists, so no TCP metadata exchange takes place.
   */
  readonly disableMxAlpn: boolean;
  /**
   * `PILOT_HTTP10` (default false; features/pilot.go): every HTTP listener accepts HTTP/1.0
   * (`accept_http_10`); off, Envoy answers an HTTP/1.0 request `426 Upgrade Required`. A
   * proxy's own `ISTIO_META_HTTP10=1` turns it on for that proxy alone (compile/http10.ts).
   */
  readonly http10: boolean;
}

export const DEFAULT_ISTIOD_FEATURES: IstiodFeatures = Object.freeze({
  enableMultipleCustomAuthzProviders: false,
  metadataExchange: true,
  disableMxAlpn: false,
  http10: false,
});

/** Whether TCP over Istio mTLS runs the metadata exchange (cluster_tls.go, authn utils.go BuildInboundTLS). */
export function tcpMetadataExchange(f: IstiodFeatures): boolean {
  return f.metadataExchange && !f.disableMxAlpn;
}

/**
 * A boolean variable as istiod's env.Register reads it: Go's strconv.ParseBool, a value it
 * does not parse leaving the default (pkg/env/var.go: logged and ignored).
 */
function envBool(value: string | undefined, fallback: boolean): boolean {
  return value === undefined ? fallback : (parseGoBool(value) ?? fallback);
}

/** The flags as istiod would read them from `env`. */
export function istiodFeaturesFromEnv(env: Readonly<Record<string, string | undefined>>): IstiodFeatures {
  return Object.freeze({
    enableMultipleCustomAuthzProviders: envBool(
      env['PILOT_ENABLE_MULTIPLE_CUSTOM_AUTHZ_PROVIDERS'],
      DEFAULT_ISTIOD_FEATURES.enableMultipleCustomAuthzProviders,
    ),
    metadataExchange: envBool(
      env['PILOT_ENABLE_METADATA_EXCHANGE'],
      DEFAULT_ISTIOD_FEATURES.metadataExchange,
    ),
    disableMxAlpn: envBool(env['PILOT_DISABLE_MX_ALPN'], DEFAULT_ISTIOD_FEATURES.disableMxAlpn),
    http10: envBool(env['PILOT_HTTP10'], DEFAULT_ISTIOD_FEATURES.http10),
  });
}
