import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { sidecarNodeId } from '../../../src/telemetry/metadata-exchange/peer-metadata.js';
import { useCleanup } from '../../helpers/cleanup.js';
import { linesBeyond } from '../../helpers/line-collector.js';
import { useTmpDir } from '../../helpers/tmp.js';
import { samples } from '../metrics-support.js';
import { listenLikeAdapters } from '../mesh-app.js';
import { fields, loggingMesh, loopbackEntry, textLogProvider } from './support.js';

// The xDS facts of real requests as a sidecar's Envoy has them from istiod: the node
// (tools/packaging/common/envoy_bootstrap.json), the virtual host, filter chain and route
// (pilot httproute.go, listener_inbound.go, route.go BuildConfigInfoMetadata), the cluster
// (cluster_builder.go addTelemetryMetadata, AddConfigInfoMetadata, AddSubsetToMetadata) and
// the endpoint (util.go AppendLbEndpointMetadata), read through Envoy's CEL
// (context.cc XDSLookupValues) and metadata formatters (formatter/metadata/metadata.cc).

const tmp = useTmpDir();
const cleanup = useCleanup();

const FORMAT = [
  'node=%CEL(xds.node.id)%',
  'node_cluster=%CEL(xds.node.cluster)%',
  'node_ns=%CEL(xds.node.metadata.NAMESPACE)%',
  'vhost=%CEL(xds.virtual_host_name)%',
  'chain=%CEL(xds.filter_chain_name)%',
  'fc=%FILTER_CHAIN_NAME%',
  'route=%METADATA(ROUTE:istio:config)%',
  'cel_route=%CEL(xds.route_metadata.filter_metadata.istio.config)%',
  'dr=%CLUSTER_METADATA(istio:config)%',
  'subset=%METADATA(CLUSTER:istio:subset)%',
  'services=%CLUSTER_METADATA(istio:services)%',
  'host=%UPSTREAM_METADATA(istio:workload)%',
  'endpoints=%CEL(upstream.num_endpoints)%',
].join(' | ');

const WORKLOAD = (app: string) => ({
  name: `${app}-1`,
  namespace: 'default',
  serviceAccount: app,
  labels: { app },
});

function yaml(port: number): string {
  return `${textLogProvider('xds', FORMAT)}---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: tags, namespace: default }
spec:
  metrics:
  - overrides:
    - match: { metric: REQUEST_COUNT, mode: CLIENT_AND_SERVER }
      tagOverrides:
        vhost: { value: "xds.virtual_host_name" }
        node_cluster: { value: "xds.node.cluster" }
---
${loopbackEntry('ratings', 'ratings.example', port, 'labels: { app: ratings, version: v1 }')}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: ratings-dr, namespace: default }
spec:
  host: ratings.example
  subsets: [{ name: v1, labels: { version: v1 } }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ratings-vs, namespace: default }
spec:
  hosts: [ratings.example]
  http:
  - route: [{ destination: { host: ratings.example, subset: v1 } }]
`;
}

const get = (port: number): Promise<number> =>
  new Promise((resolve, reject) => {
    const r = request({ host: '127.0.0.1', port, path: '/x', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    r.on('error', reject);
    r.end();
  });

describe('xds.* and route/cluster/host metadata on real requests', () => {
  it('reads them on an outbound mesh.fetch and on an inbound request to the app', async () => {
    const ratings = cleanup.server(createServer((_req, res) => res.end('ok')));
    await new Promise<void>((r) => ratings.listen(0, '127.0.0.1', r));
    const ratingsPort = (ratings.address() as AddressInfo).port;
    const { mesh, lines } = await loggingMesh(await tmp(), yaml(ratingsPort), { app: 'productpage' });
    cleanup.mesh(mesh);
    const nodeId = sidecarNodeId(WORKLOAD('productpage'));

    // Outbound: the VirtualService's route to the DestinationRule's subset cluster.
    expect(await (await mesh.fetch(`http://ratings.example:${ratingsPort}/`)).text()).toBe('ok');
    await linesBeyond(lines, 0);
    expect(fields(lines[0]!)).toEqual({
      node: nodeId,
      node_cluster: 'productpage.default',
      node_ns: 'default',
      vhost: `ratings.example:${ratingsPort}`,
      chain: '',
      fc: '-',
      route: '/apis/networking.istio.io/v1/namespaces/default/virtual-service/ratings-vs',
      cel_route: '/apis/networking.istio.io/v1/namespaces/default/virtual-service/ratings-vs',
      dr: '/apis/networking.istio.io/v1/namespaces/default/destination-rule/ratings-dr',
      subset: 'v1',
      services: '[{"host":"ratings.example","name":"ratings.example","namespace":"default"}]',
      // The entry's first inline endpoint: workload `<entry>-0` (serviceentry/conversion.go).
      host: 'ratings-0;default;ratings;v1;Kubernetes',
      endpoints: '1',
    });

    // Inbound: the virtual inbound listener's chain for the port, its `inbound|http|<port>`
    // virtual host and default route (no metadata), the inbound cluster with its service
    // (here the one meshlet derives without a Kubernetes Service: the canonical service's).
    const port = await listenLikeAdapters(mesh, (_req, res) => {
      res.end('{}');
    });
    expect(await get(port)).toBe(200);
    await linesBeyond(lines, 1);
    expect(fields(lines[1]!)).toEqual({
      node: nodeId,
      node_cluster: 'productpage.default',
      node_ns: 'default',
      vhost: `inbound|http|${port}`,
      chain: `0.0.0.0_${port}`,
      fc: `0.0.0.0_${port}`,
      route: '-',
      cel_route: '-',
      dr: '-',
      subset: '-',
      services:
        '[{"host":"productpage.default.svc.cluster.local","name":"productpage","namespace":"default"}]',
      host: '-',
      endpoints: '1',
    });

    // An address the registry does not know: ALLOW_ANY's catch-all `allow_any` virtual host
    // and route (no metadata), PassthroughCluster (original destination, no metadata).
    expect(await (await mesh.fetch(`http://127.0.0.1:${ratingsPort}/`)).text()).toBe('ok');
    await linesBeyond(lines, 2);
    expect(fields(lines[2]!)).toMatchObject({
      vhost: 'allow_any',
      route: '-',
      dr: '-',
      services: '-',
      host: '-',
      endpoints: '-',
    });

    const rows = await samples(mesh.telemetry!.registry, 'istio_requests_total');
    expect(rows.map((r) => [r.labels['reporter'], r.labels['vhost'], r.labels['node_cluster']])).toEqual(
      expect.arrayContaining([
        ['source', `ratings.example:${ratingsPort}`, 'productpage.default'],
        ['destination', `inbound|http|${port}`, 'productpage.default'],
      ]),
    );
  });
});
