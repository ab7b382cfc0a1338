import type { EntryLocality } from './entry.js';

/**
 * An `envoy.config.core.v3.Metadata`: its `filter_metadata`, a Struct per filter namespace
 * (`istio`, `envoy.transport_socket_match`), plain JSON values.
 */
export type XdsMetadata = Readonly<Record<string, Readonly<Record<string, unknown>>>>;

/** No metadata: what a listener, virtual host or route istiod writes none for carries. */
export const EMPTY_METADATA: XdsMetadata = Object.freeze({});

/**
 * The proxy's `envoy.config.core.v3.Node`, as istio-agent's bootstrap gives it
 * (tools/packaging/common/envoy_bootstrap.json): id, service cluster, locality and
 * Istio's node metadata (pkg/model/proxy.go NodeMetadata), plus the user agent Envoy
 * sets itself.
 */
export interface XdsNode {
  readonly id: string;
  readonly cluster: string;
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly locality: EntryLocality;
  readonly userAgentName: string;
}

/**
 * What Envoy's stream info knows of the xDS resources a request went through (envoy
 * source/extensions/filters/common/expr/context.cc XDSLookupValues, the `%METADATA(...)%`
 * formatters). Null = Envoy has none (no route, no cluster, no upstream host).
 */
export interface EntryXds {
  readonly node: XdsNode;
  readonly filterChainName: string;
  readonly listenerMetadata: XdsMetadata;
  readonly virtualHostName: string | null;
  readonly virtualHostMetadata: XdsMetadata | null;
  readonly routeMetadata: XdsMetadata | null;
  readonly clusterMetadata: XdsMetadata | null;
  readonly upstreamHostMetadata: XdsMetadata | null;
  /** `upstream.num_endpoints`: the cluster's membership_total; null when unknown or no cluster. */
  readonly numEndpoints: number | null;
}

/**
 * The path istiod writes in `istio.config` for the config behind a resource
 * (pilot/pkg/networking/util/util.go AddConfigInfoMetadata): `/apis/<group>/<version>/
 * namespaces/<ns>/<kebab-kind>/<name>`, the version being the stored one (v1).
 */
export function istioConfigPath(
  kind: 'virtual-service' | 'destination-rule',
  ref: { readonly namespace: string; readonly name: string },
): string {
  return `/apis/networking.istio.io/v1/namespaces/${ref.namespace}/${kind}/${ref.name}`;
}

/** A function computing its value on the first call only. */
export function once<T>(compute: () => T): () => T {
  let done = false;
  let value: T;
  return () => {
    if (!done) {
      value = compute();
      done = true;
    }
    return value;
  };
}
