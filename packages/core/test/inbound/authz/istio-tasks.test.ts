import { describe, expect, it } from 'vitest';
import type { WorkloadIdentity } from '../../../src/compile/workload.js';
import type { MeshConfig } from '../../../src/config/mesh-config.js';
import type { InboundRequest } from '../../../src/inbound/engine-types.js';
import { engineFor, peer, planOf, request, sample, verdict } from '../engine/support.js';

function bookinfo(app: string): WorkloadIdentity {
  return {
    name: `${app}-v1`,
    namespace: 'default',
    serviceAccount: `bookinfo-${app}`,
    labels: { app, version: 'v1' },
  };
}

async function decide(
  files: string[],
  workload: WorkloadIdentity,
  req: Partial<InboundRequest>,
  meshConfig: Partial<MeshConfig> = {},
  substitute: Record<string, string> = {},
) {
  let yaml = files.map((f) => sample(f)).join('\n---\n');
  for (const [k, v] of Object.entries(substitute)) yaml = yaml.split(k).join(v);
  return verdict(await engineFor(planOf(yaml, { workload, meshConfig })).decide(request(req)));
}

const productpagePeer = peer('cluster.local/ns/default/sa/bookinfo-productpage');
const reviewsPeer = peer('cluster.local/ns/default/sa/bookinfo-reviews');

describe('istio.io task authz-http (the allow-nothing ladder)', () => {
  const steps = [
    'tasks/authz-http/01-allow-nothing.yaml',
    'tasks/authz-http/02-productpage-viewer.yaml',
    'tasks/authz-http/03-details-viewer.yaml',
    'tasks/authz-http/04-reviews-viewer.yaml',
    'tasks/authz-http/05-ratings-viewer.yaml',
  ];
  type Probe = [app: string, req: Partial<InboundRequest>];
  const probes: Probe[] = [
    ['productpage', { method: 'GET' }],
    ['productpage', { method: 'POST' }],
    ['details', { method: 'GET', peer: productpagePeer }],
    ['details', { method: 'GET', peer: reviewsPeer }],
    ['reviews', { method: 'GET', peer: productpagePeer }],
    ['ratings', { method: 'GET', peer: reviewsPeer }],
    ['ratings', { method: 'GET' }],
  ];
  // After applying step N (1-based), what each probe gets.
  const expected: (number | 'allow')[][] = [
    [403, 403, 403, 403, 403, 403, 403],
    ['allow', 403, 403, 403, 403, 403, 403],
    ['allow', 403, 'allow', 403, 403, 403, 403],
    ['allow', 403, 'allow', 403, 'allow', 403, 403],
    ['allow', 403, 'allow', 403, 'allow', 'allow', 403],
  ];
  it.each(expected.map((row, i) => [i + 1, row] as const))('after step %i', async (n, row) => {
    const got = [];
    for (const [app, req] of probes) got.push(await decide(steps.slice(0, n), bookinfo(app), req));
    expect(got).toEqual(row);
  });
});

describe('istio.io task authz-deny', () => {
  const httpbin: WorkloadIdentity = {
    name: 'httpbin-1',
    namespace: 'foo',
    serviceAccount: 'httpbin',
    labels: { app: 'httpbin' },
  };
  it.each([
    [['01-deny-method-get.yaml'], { method: 'GET', url: '/get' }, 403],
    [['01-deny-method-get.yaml'], { method: 'POST', url: '/post' }, 'allow'],
    [
      ['02-deny-method-get-unless-admin.yaml'],
      { method: 'GET', url: '/get', headers: { 'x-token': 'admin' } },
      'allow',
    ],
    [
      ['02-deny-method-get-unless-admin.yaml'],
      { method: 'GET', url: '/get', headers: { 'x-token': 'guest' } },
      403,
    ],
    [['02-deny-method-get-unless-admin.yaml'], { method: 'GET', url: '/get' }, 403],
    [
      ['02-deny-method-get-unless-admin.yaml', '03-allow-path-ip.yaml'],
      { method: 'GET', url: '/ip', headers: { 'x-token': 'admin' } },
      'allow',
    ],
    [
      ['02-deny-method-get-unless-admin.yaml', '03-allow-path-ip.yaml'],
      { method: 'GET', url: '/get', headers: { 'x-token': 'admin' } },
      403,
    ],
    [['02-deny-method-get-unless-admin.yaml', '03-allow-path-ip.yaml'], { method: 'GET', url: '/ip' }, 403],
  ] as const)('%j with %j → %s', async (files, req, want) => {
    expect(
      await decide(
        files.map((f) => `tasks/authz-deny/${f}`),
        httpbin,
        req,
      ),
    ).toBe(want);
  });
});

describe('istio.io task authz-ingress (ipBlocks vs remoteIpBlocks)', () => {
  const gateway: WorkloadIdentity = {
    name: 'istio-ingressgateway-1',
    namespace: 'istio-system',
    serviceAccount: 'istio-ingressgateway-service-account',
    labels: { app: 'istio-ingressgateway', istio: 'ingressgateway' },
  };
  const CLIENT = '192.0.2.50';
  const LB = '10.0.0.5';
  // The client reaches the gateway through a load balancer that appends it to X-Forwarded-For.
  const viaLb = { sourceIp: LB, headers: { 'x-forwarded-for': CLIENT } };
  const direct = { sourceIp: CLIENT };
  const trusted = { numTrustedProxies: 1 };
  it.each([
    ['01a', '01a-ingress-policy-allow-ipblocks.yaml', direct, {}, 403],
    ['01a', '01a-ingress-policy-allow-ipblocks.yaml', { sourceIp: '5.6.7.8' }, {}, 'allow'],
    ['01b', '01b-ingress-policy-allow-remoteipblocks.yaml', viaLb, trusted, 403],
    [
      '01b',
      '01b-ingress-policy-allow-remoteipblocks.yaml',
      { sourceIp: LB, headers: { 'x-forwarded-for': '5.6.7.8' } },
      trusted,
      'allow',
    ],
    ['02a', '02a-ingress-policy-allow-ipblocks-with-client.yaml', direct, {}, 'allow'],
    [
      '02a behind the LB: the peer is the LB',
      '02a-ingress-policy-allow-ipblocks-with-client.yaml',
      viaLb,
      trusted,
      403,
    ],
    ['02b', '02b-ingress-policy-allow-remoteipblocks-with-client.yaml', viaLb, trusted, 'allow'],
    [
      '02b without trusted proxies: remote is the LB',
      '02b-ingress-policy-allow-remoteipblocks-with-client.yaml',
      viaLb,
      {},
      403,
    ],
    ['03a', '03a-ingress-policy-deny-ipblocks-client.yaml', direct, {}, 403],
    [
      '03a other client',
      '03a-ingress-policy-deny-ipblocks-client.yaml',
      { sourceIp: '198.51.100.9' },
      {},
      'allow',
    ],
    ['03b', '03b-ingress-policy-deny-remoteipblocks-client.yaml', viaLb, trusted, 403],
    [
      '03b forged XFF from an untrusted peer',
      '03b-ingress-policy-deny-remoteipblocks-client.yaml',
      { sourceIp: '198.51.100.9', headers: { 'x-forwarded-for': '198.51.100.1' } },
      trusted,
      'allow',
    ],
  ] as const)('%s (%s) → %s', async (_label, file, req, meshConfig, want) => {
    expect(
      await decide([`tasks/authz-ingress/${file}`], gateway, req, meshConfig, { $CLIENT_IP: CLIENT }),
    ).toBe(want);
  });
});
