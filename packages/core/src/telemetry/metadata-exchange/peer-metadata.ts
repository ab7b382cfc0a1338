import { networkInterfaces } from 'node:os';
import type { WorkloadIdentity } from '../../compile/workload.js';
import { canonicalRevision, canonicalService } from '../peer-labels.js';
import { decodeStruct, encodeStruct, type StructFields, type StructValue } from './struct-wire.js';

/**
 * Istio's HTTP metadata exchange (istio/proxy peer_metadata filter, `istio_headers`): each
 * sidecar sends its workload's metadata, a base64 `google.protobuf.Struct`, in
 * `x-envoy-peer-metadata`, and its node id in `x-envoy-peer-metadata-id`. The side that
 * receives them labels its `istio_*` metrics with the peer's workload, app, version and
 * canonical service, and removes both headers before the application sees them.
 */
export const PEER_METADATA = 'x-envoy-peer-metadata';
export const PEER_METADATA_ID = 'x-envoy-peer-metadata-id';

/**
 * What a peer's metadata says about it: Istio's WorkloadMetadataObject
 * (istio/proxy extensions/common/metadata_object.h). Empty strings where not sent.
 */
export interface PeerMetadata {
  /** NAME: the pod. */
  readonly instance: string;
  readonly namespace: string;
  /** WORKLOAD_NAME: the Deployment (or other owner) name, `source_workload`. */
  readonly workload: string;
  /** CLUSTER_ID. */
  readonly cluster: string;
  readonly canonicalService: string;
  readonly canonicalRevision: string;
  readonly app: string;
  readonly version: string;
}

/** The LABELS keys metadata_object.h reads. */
const CANONICAL_NAME = 'service.istio.io/canonical-name';
const CANONICAL_REVISION = 'service.istio.io/canonical-revision';
const APP_QUALIFIED = 'app.kubernetes.io/name';
const APP = 'app';
const VERSION_QUALIFIED = 'app.kubernetes.io/version';
const VERSION = 'version';

const str = (v: StructValue | undefined): string => (typeof v === 'string' ? v : '');

function isFields(v: StructValue | undefined): v is StructFields {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * A peer's Struct as Istio reads it (metadata_object.cc convertStructToWorkloadMetadata):
 * `app.kubernetes.io/name` before `app`, `app.kubernetes.io/version` before `version`, the
 * canonical service and revision only from their own labels.
 */
export function metadataFromStruct(s: StructFields): PeerMetadata {
  const labels = isFields(s['LABELS']) ? s['LABELS'] : {};
  return Object.freeze({
    instance: str(s['NAME']),
    namespace: str(s['NAMESPACE']),
    workload: str(s['WORKLOAD_NAME']),
    cluster: str(s['CLUSTER_ID']),
    canonicalService: str(labels[CANONICAL_NAME]),
    canonicalRevision: str(labels[CANONICAL_REVISION]),
    app: str(labels[APP_QUALIFIED]) || str(labels[APP]),
    version: str(labels[VERSION_QUALIFIED]) || str(labels[VERSION]),
  });
}

/**
 * The Struct a sidecar sends for its own workload (metadata_object.cc
 * convertWorkloadMetadataToStruct): empty fields left out, the app, version and
 * canonical labels under LABELS (LABELS is always there, possibly empty).
 */
export function structFromMetadata(m: PeerMetadata): StructFields {
  const out: Record<string, StructValue> = {};
  const labels: Record<string, StructValue> = {};
  if (m.instance !== '') out['NAME'] = m.instance;
  if (m.namespace !== '') out['NAMESPACE'] = m.namespace;
  if (m.workload !== '') out['WORKLOAD_NAME'] = m.workload;
  if (m.cluster !== '') out['CLUSTER_ID'] = m.cluster;
  if (m.canonicalService !== '') labels[CANONICAL_NAME] = m.canonicalService;
  if (m.canonicalRevision !== '') labels[CANONICAL_REVISION] = m.canonicalRevision;
  if (m.app !== '') labels[APP] = m.app;
  if (m.version !== '') labels[VERSION] = m.version;
  out['LABELS'] = labels;
  return out;
}

/**
 * This workload as an injected pod's sidecar describes it: the canonical labels the
 * injector adds (pkg/kube/labels CanonicalService/CanonicalRevision), the pod labels read
 * as metadata_object.cc reads a node's LABELS.
 */
export function localMetadata(workload: WorkloadIdentity, cluster: string): PeerMetadata {
  const labels = workload.labels;
  return metadataFromStruct({
    NAME: workload.name,
    NAMESPACE: workload.namespace,
    WORKLOAD_NAME: workload.name,
    CLUSTER_ID: cluster,
    LABELS: {
      ...labels,
      [CANONICAL_NAME]: canonicalService(labels, workload.name),
      [CANONICAL_REVISION]: canonicalRevision(labels),
    },
  });
}

/** The two header values a workload sends, worked out once. */
export interface LocalPeerHeaders {
  /** `x-envoy-peer-metadata-id`: the proxy's node id. */
  readonly id: string;
  /** `x-envoy-peer-metadata`: base64 of the deterministic Struct bytes. */
  readonly value: string;
}

/**
 * Envoy's node id of a sidecar: `sidecar~<ip>~<pod>.<ns>~<ns>.svc.cluster.local`. The IP is
 * `INSTANCE_IP` (what Istio's injector sets from the pod's `status.podIP`), else the first
 * non-loopback IPv4 address of this host, which in a pod is the pod's.
 */
export function sidecarNodeId(workload: WorkloadIdentity, env: NodeJS.ProcessEnv = process.env): string {
  const ns = workload.namespace;
  return `sidecar~${env['INSTANCE_IP'] ?? hostIp()}~${workload.name}.${ns}~${ns}.svc.cluster.local`;
}

function hostIp(): string {
  for (const addresses of Object.values(networkInterfaces()))
    for (const a of addresses ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return '127.0.0.1';
}

/** This workload's metadata-exchange headers (MXPropagationMethod::computeValue). */
export function localPeerHeaders(
  workload: WorkloadIdentity,
  cluster: string,
  nodeId: string,
): LocalPeerHeaders {
  const bytes = encodeStruct(structFromMetadata(localMetadata(workload, cluster)));
  return Object.freeze({ id: nodeId, value: bytes.toString('base64') });
}

/**
 * Header values longer than this are not decoded (the peer stays unknown). A real one is
 * around 1 KiB (Istio 1.14's, with every pod label, 740 characters); the cap bounds the work
 * and the cache memory (4 MiB at most) forged headers can ask for.
 */
const MAX_VALUE = 4 * 1024;
const MAX_CACHED = 1024;
const cache = new Map<string, PeerMetadata | null>();

/**
 * The peer a received `x-envoy-peer-metadata` describes, or null when it is not valid
 * base64 of a Struct (Envoy then finds no peer: MXMethod::lookup). Cached by value, as
 * the same callers send the same bytes on every request.
 */
export function peerMetadataOf(value: string | readonly string[] | undefined): PeerMetadata | null {
  // A repeated header: Envoy's lookup reads the first.
  const v = typeof value === 'string' ? value : value?.[0];
  if (v === undefined || v === '' || v.length > MAX_VALUE) return null;
  const hit = cache.get(v);
  if (hit !== undefined) return hit;
  let out: PeerMetadata | null;
  try {
    out = metadataFromStruct(decodeStruct(Buffer.from(v, 'base64')));
  } catch {
    out = null;
  }
  if (cache.size >= MAX_CACHED) cache.clear();
  cache.set(v, out);
  return out;
}
