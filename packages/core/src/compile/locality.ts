/**
 * Localities (`region/zone/subzone`) as Istio reads them for a proxy and for an endpoint.
 */

/** istio pilot/pkg/serviceregistry/util/label/label.go. */
export const TOPOLOGY_REGION = 'topology.kubernetes.io/region';
export const TOPOLOGY_ZONE = 'topology.kubernetes.io/zone';
export const TOPOLOGY_SUBZONE = 'topology.istio.io/subzone';
/** istio/api label `topology.istio.io/locality`, read before the older `istio-locality`. */
const LOCALITY_LABEL = 'topology.istio.io/locality';
const LEGACY_LOCALITY_LABEL = 'istio-locality';

export interface Locality {
  readonly region: string;
  readonly zone: string;
  readonly subzone: string;
}

/** istio label.go `SplitLocalityLabel`: `a` / `a/b` / `a/b/c` (more parts are dropped). */
export function splitLocality(locality: string): Locality {
  const parts = locality.split('/');
  return { region: parts[0] ?? '', zone: parts[1] ?? '', subzone: parts[2] ?? '' };
}

/**
 * istio pkg/model/proxy.go `GetLocalityLabel` + `SanitizeLocalityLabel`: the
 * `topology.istio.io/locality` label, else `istio-locality`; Kubernetes label values cannot
 * hold `/`, so dots separate the parts unless the value already has a slash.
 */
export function localityLabel(labels: Readonly<Record<string, string>>): string | null {
  const raw = labels[LOCALITY_LABEL] ?? labels[LEGACY_LOCALITY_LABEL];
  if (raw === undefined || raw === '') return null;
  return raw.includes('/') ? raw : raw.replaceAll('.', '/');
}

/**
 * The proxy's own locality from its labels, as istiod's `localityFromProxyLabels`
 * (pilot/pkg/xds/ads.go) reads them: the topology labels when any is present (Kubernetes
 * puts the node's there), else the locality label. null when neither says.
 */
export function localityFromLabels(labels: Readonly<Record<string, string>>): string | null {
  const region = labels[TOPOLOGY_REGION];
  const zone = labels[TOPOLOGY_ZONE];
  const subzone = labels[TOPOLOGY_SUBZONE];
  if (region === undefined && zone === undefined && subzone === undefined) return localityLabel(labels);
  return `${region ?? ''}/${zone ?? ''}/${subzone ?? ''}`;
}

/**
 * istio label.go `AugmentLabels`: the topology labels a registry adds to an endpoint's (and
 * the proxy's) labels from its locality, which `failoverPriority` can then name.
 */
export function withTopologyLabels(
  labels: Readonly<Record<string, string>>,
  locality: string | null,
): Readonly<Record<string, string>> {
  if (locality === null || locality === '') return labels;
  const { region, zone, subzone } = splitLocality(locality);
  const out: Record<string, string> = { ...labels };
  if (region !== '') out[TOPOLOGY_REGION] = region;
  if (zone !== '') out[TOPOLOGY_ZONE] = zone;
  if (subzone !== '') out[TOPOLOGY_SUBZONE] = subzone;
  return out;
}
