import type { IstiodFeatures } from './istiod-features.js';

type Raw = Readonly<Record<string, unknown>>;

/** The proxy metadata variable that turns HTTP/1.0 on for one proxy (node metadata `HTTP10`). */
export const HTTP10_ENV = 'ISTIO_META_HTTP10';

/**
 * Whether the workload's HTTP listeners accept HTTP/1.0 (Envoy's `accept_http_10`): istiod's
 * `PILOT_HTTP10`, or the proxy's node metadata `HTTP10` being exactly `1` (listener.go
 * enableHTTP10), which comes from `ISTIO_META_HTTP10` in the proxy's environment: this
 * process's when set, else meshConfig `defaultConfig.proxyMetadata` (what pilot-agent runs
 * with). Off by default, so an HTTP/1.0 client (ApacheBench, nginx's default `proxy_pass`) gets
 * `426 Upgrade Required` from a sidecar or a gateway.
 */
export function acceptsHttp10(
  features: IstiodFeatures,
  defaultConfig: Raw,
  env: Readonly<Record<string, string | undefined>>,
): boolean {
  if (features.http10) return true;
  const own = env[HTTP10_ENV];
  if (own !== undefined) return own === '1';
  const meta = defaultConfig['proxyMetadata'];
  if (typeof meta !== 'object' || meta === null) return false;
  const value = (meta as Raw)[HTTP10_ENV];
  return value === '1' || value === 1;
}
