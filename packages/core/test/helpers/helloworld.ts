import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach } from 'vitest';

/**
 * Istio's samples/helloworld Service in the `sample` namespace, as the istio.io locality
 * load-balancing tasks deploy it; `extraSpec` adds indented `spec` lines.
 */
export function helloworldService(extraSpec = ''): string {
  return `
apiVersion: v1
kind: Service
metadata: { name: helloworld, namespace: sample }
spec:
  selector: { app: helloworld }
  ports: [{ name: http, port: 5000 }]
${extraSpec}`;
}

/** The tasks' caller: the sleep workload of `sample`, in region1/zone1. */
export const SLEEP_IN_ZONE1 = {
  name: 'sleep',
  namespace: 'sample',
  serviceAccount: 'sleep',
  labels: { app: 'sleep' },
  locality: 'region1/zone1',
} as const;

/** Its outbound cluster. */
export const HELLOWORLD_CLUSTER = 'outbound|5000||helloworld.sample.svc.cluster.local';

/**
 * Loopback helloworld pods for the locality tasks: each answers with its zone, or 503 while
 * `state.failing`; all are closed after each test.
 */
export function useZonePods(): (zone: string, state?: { readonly failing: boolean }) => Promise<number> {
  const servers: http.Server[] = [];
  afterEach(async () => {
    await Promise.all(
      servers.splice(0).map(
        (s) =>
          new Promise<void>((r) => {
            s.closeAllConnections();
            s.close(() => r());
          }),
      ),
    );
  });
  return async (zone, state = { failing: false }) => {
    const server = http.createServer((_req, res) => {
      res.statusCode = state.failing ? 503 : 200;
      res.end(zone);
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return (server.address() as AddressInfo).port;
  };
}

/**
 * The failover task's DestinationRule (locality-load-balancing/failover) beside the Service:
 * locality load balancing with `failover: region1 -> region2`, and outlier detection that
 * ejects a pod on its first 5xx for a minute.
 */
export const HELLOWORLD_FAILOVER = `${helloworldService()}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: helloworld, namespace: sample }
spec:
  host: helloworld.sample.svc.cluster.local
  trafficPolicy:
    connectionPool: { http: { maxRequestsPerConnection: 1 } }
    loadBalancer:
      simple: ROUND_ROBIN
      localityLbSetting:
        enabled: true
        failover: [{ from: region1, to: region2 }]
    outlierDetection: { consecutive5xxErrors: 1, interval: 1s, baseEjectionTime: 1m, maxEjectionPercent: 100 }
`;
