import type { InboundDecision } from '../../src/inbound/engine-types.js';
import type { PeerIdentity } from '../../src/inbound/request-context.js';
import { loadConfigText } from '../../src/config/load.js';
import type { ConfigSnapshot } from '../../src/config/snapshot.js';
import type { WorkloadIdentity } from '../../src/compile/workload.js';

export const PRODUCTPAGE: WorkloadIdentity = Object.freeze({
  name: 'productpage-v1',
  namespace: 'default',
  serviceAccount: 'bookinfo-productpage',
  labels: Object.freeze({ app: 'productpage', version: 'v1' }),
});

export const REVIEWS_V2: WorkloadIdentity = Object.freeze({
  name: 'reviews-v2',
  namespace: 'default',
  serviceAccount: 'bookinfo-reviews',
  labels: Object.freeze({ app: 'reviews', version: 'v2' }),
});

export const MESH = Object.freeze({ trustDomain: 'cluster.local', rootNamespace: 'istio-system' });

/** Load YAML text into a snapshot and fail loudly on any error diagnostic. */
export function snapshotOf(yaml: string): ConfigSnapshot {
  const snap = loadConfigText(yaml);
  const errors = snap.diagnostics.filter((d) => d.level === 'Error');
  if (errors.length > 0) throw new Error(errors.map((d) => `${d.code} ${d.message}`).join('\n'));
  return snap;
}

/** productpage's verified mTLS identity, the caller of reviews in Bookinfo. */
export const PRODUCTPAGE_PEER: PeerIdentity = Object.freeze({
  principal: 'cluster.local/ns/default/sa/bookinfo-productpage',
  trustDomain: 'cluster.local',
  namespace: 'default',
  serviceAccount: 'bookinfo-productpage',
});

/** The inbound engine's decision letting productpage read `/reviews/1`. */
export const ALLOW_PRODUCTPAGE: InboundDecision = Object.freeze({
  allow: true,
  url: '/reviews/1',
  context: { peer: PRODUCTPAGE_PEER, auth: null },
  removeHeaders: [],
  setHeaders: {},
  responseHeaders: {},
  shadow: [],
});
