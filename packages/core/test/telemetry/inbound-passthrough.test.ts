import { describe, expect, it } from 'vitest';
import { useCleanup } from '../helpers/cleanup.js';
import { linesBeyond } from '../helpers/line-collector.js';
import { useTmpDir } from '../helpers/tmp.js';
import { meshApp, samplesWhen, send } from './mesh-app.js';

// A port no Service targets gets no inbound filter chain from istiod (listener_inbound.go
// getFilterChainsByServicePort walks the proxy's ServiceTargets only): the request takes
// the virtual inbound listener's passthrough chain to `InboundPassthroughCluster`
// (buildInboundPassthroughChains), a cluster without `istio.services` metadata. The server's
// stats filter then names the service after that cluster and, the Host header fallback being
// off on inbound, reports the canonical service as `destination_service` (istio/proxy
// source/extensions/filters/http/istio_stats/istio_stats.cc populatePeerInfo).

const tmp = useTmpDir();
const cleanup = useCleanup();

const WORKLOAD = {
  name: 'reviews-v2',
  namespace: 'default',
  serviceAccount: 'bookinfo-reviews',
  labels: { app: 'reviews', version: 'v2', 'service.istio.io/canonical-name': 'reviews-canon' },
};

// A Service selecting the workload, on a pod port other than the one the app listens on.
const OTHER_PORT_SERVICE = `apiVersion: v1
kind: Namespace
metadata: { name: default }
---
apiVersion: v1
kind: Service
metadata: { name: reviews, namespace: default }
spec:
  selector: { app: reviews }
  ports: [{ name: http, port: 9080, targetPort: 9080 }]
`;

describe('inbound request to a port no Service targets', () => {
  it('reports the canonical service, InboundPassthroughCluster and the workload namespace, and logs that cluster', async () => {
    const app = await meshApp(cleanup, await tmp(), {
      workload: WORKLOAD,
      yaml: OTHER_PORT_SERVICE,
      handler: (_req, res) => void res.end('ok'),
    });
    expect(await send(app.port, { path: '/reviews/1' })).toBe(200);

    const rows = await samplesWhen(app.mesh, 'istio_requests_total', (l) => l['reporter'] === 'destination');
    const row = rows.find((l) => l['reporter'] === 'destination')!;
    expect([
      row['destination_service'],
      row['destination_service_name'],
      row['destination_service_namespace'],
      row['destination_canonical_service'],
    ]).toEqual(['reviews-canon', 'InboundPassthroughCluster', 'default', 'reviews-canon']);

    await linesBeyond(app.lines, 0);
    const entry = JSON.parse(app.lines[0]!) as Record<string, unknown>;
    expect([entry['upstream_cluster'], entry['route_name']]).toEqual([
      'InboundPassthroughCluster',
      'default',
    ]);
  });
});
