import { describe, expect, it } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import { runsAsGateway } from '../../src/compile/gateway-workload.js';
import type { WorkloadIdentity } from '../../src/compile/workload.js';

// istiod builds a gateway's listeners with use_remote_address: true and
// xff_num_trusted_hops (gateway.go), a sidecar's inbound without either
// (listener_inbound.go): which one meshlet is decides how remote.ip is found.
const workload = (labels: Record<string, string>): WorkloadIdentity => ({
  name: 'w',
  namespace: 'edge',
  serviceAccount: 'w',
  labels,
});

const GATEWAY = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: public, namespace: istio-system }
spec:
  selector: { app: edge-proxy }
  servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: ["*"] }]
`;

describe('runsAsGateway', () => {
  const resources = loadConfigText(GATEWAY).resources;
  it.each([
    ['a Gateway selector picks it (any namespace)', { app: 'edge-proxy' }, true],
    ["Istio's chart label", { istio: 'ingressgateway' }, true],
    ['an egress gateway', { istio: 'egressgateway' }, true],
    ['a Kubernetes Gateway deployment', { 'gateway.networking.k8s.io/gateway-name': 'public' }, true],
    ['any other workload is a sidecar', { app: 'httpbin' }, false],
  ] as const)('%s → %s', (_what, labels, want) => {
    expect(runsAsGateway(resources, workload(labels))).toBe(want);
  });
});
