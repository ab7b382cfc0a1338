import type { MeshPlan } from '../compile/plan-types.js';
import {
  PEER_METADATA,
  PEER_METADATA_ID,
  peerMetadataOf,
  type LocalPeerHeaders,
  type PeerMetadata,
} from '../telemetry/metadata-exchange/peer-metadata.js';
import type { HeaderRecord } from './request-input.js';

/**
 * Istio's outbound metadata exchange (the sidecar's outbound peer_metadata filter, before
 * the router: pilot xds/filters SidecarOutboundMetadataFilter; istio/proxy
 * peer_metadata/filter.cc). Every HTTP call out carries this workload's
 * `x-envoy-peer-metadata` and `-id`, replacing any the application set. With
 * `proxyHeaders.metadataExchangeHeaders.mode: IN_MESH` a MESH_EXTERNAL service and the
 * PassthroughCluster get none (`skip_external_clusters`). The istio.io default sends them
 * everywhere, external services included.
 */
export function sendPeerHeaders(
  headers: HeaderRecord,
  local: LocalPeerHeaders | null,
  plan: MeshPlan,
  serviceHost: string | null,
): void {
  if (local === null) return;
  // `serviceHost` null: the PassthroughCluster, always external.
  if (
    plan.meshConfig.proxyHeaders.metadataExchange === 'IN_MESH' &&
    (serviceHost === null || plan.outbound.services[serviceHost]?.location === 'MESH_EXTERNAL')
  )
    return;
  headers[PEER_METADATA_ID] = local.id;
  headers[PEER_METADATA] = local.value;
}

/**
 * The upstream's answer: its metadata, for the `destination_*` labels, and both headers
 * taken off the response before the application sees it (MXMethod::remove).
 */
export function takePeerHeaders(headers: HeaderRecord): PeerMetadata | null {
  const value = headers[PEER_METADATA];
  if (value === undefined && headers[PEER_METADATA_ID] === undefined) return null;
  delete headers[PEER_METADATA];
  delete headers[PEER_METADATA_ID];
  return peerMetadataOf(value);
}
