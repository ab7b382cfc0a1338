import { describe, expect, it } from 'vitest';
import { harness, planOf, sample } from './support/setup.js';
import { threeV1 } from './support/yaml.js';

// consistentHash.useSourceIp hashes the downstream address (envoy hash_policy.cc IpHashMethod):
// for a sidecar's outbound, the pod IP the application connects from, or the last
// x-forwarded-for address (use_remote_address off on the outbound listener,
// conn_manager_utility.cc / http/utility.cc getLastAddressFromXFF).

const DR = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec:
  host: reviews
  trafficPolicy: { loadBalancer: { consistentHash: { useSourceIp: true } } }
`;

function reviews() {
  const plan = planOf([sample('bookinfo-platform/bookinfo.yaml'), DR], threeV1);
  const h = harness(plan, () => ({ status: 200 }));
  h.plan = { ...plan, workload: { ...plan.workload, ip: '10.244.1.7' } };
  return h;
}

describe('consistentHash.useSourceIp (Envoy IpHashMethod)', () => {
  it('hashes the workload IP, not its name', async () => {
    const h = reviews();
    await h.call('http://reviews:9080/');
    expect(h.clusters.picks.map((p) => p.hashKey)).toEqual(['10.244.1.7']);
  });

  it('hashes the last x-forwarded-for address the application sends', async () => {
    const h = reviews();
    await h.call('http://reviews:9080/', { headers: { 'x-forwarded-for': '198.51.100.1, 203.0.113.9' } });
    expect(h.clusters.picks.map((p) => p.hashKey)).toEqual(['203.0.113.9']);
  });
});
