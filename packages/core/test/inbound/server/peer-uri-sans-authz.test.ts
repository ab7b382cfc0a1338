import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createInboundEngine } from '../../../src/inbound/engine.js';
import { createMeshServer, type MeshServer } from '../../../src/inbound/server/mesh-server.js';
import { peerFromSocket } from '../../../src/inbound/server/peer-registry.js';
import { toInboundRequestVia } from '../../../src/inbound/node-request.js';
import { createManualClock } from '../../../src/runtime/clock.js';
import { seededRandom } from '../../../src/runtime/random.js';
import { fakeJwt } from '../engine/support.js';
import { certWithSans } from '../../identity/multi-san-cert.js';
import { sharedCa } from '../../identity/support.js';
import { certSourceFor, httpbin, planFor, sampleText, tlsGet } from './support.js';

/**
 * Envoy's RBAC `authenticated` principal matcher tries every URI SAN of the client
 * certificate, then its DNS SANs, then its subject (source/extensions/filters/common/rbac/
 * matchers.cc AuthenticatedMatcher), and Istio's principals, namespaces, serviceAccounts
 * and trustDomains matchers are all built on it (pilot/pkg/security/authz/model
 * generator.go, principal.go principalAuthenticated): a certificate with two identities
 * matches a policy written for either.
 */
const STRICT = { text: sampleText('tasks/authn-policy/02-peerauthentication-namespace-foo-strict.yaml') };

function allow(name: string, path: string, source: string) {
  return {
    text: `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ${name}, namespace: foo }
spec:
  selector: { matchLabels: { app: httpbin } }
  rules:
  - to: [{ operation: { paths: ["${path}"] } }]
    from: [{ source: ${source} }]
`,
  };
}

const POLICIES = [
  STRICT,
  allow('by-principal', '/principal', '{ principals: ["partner.example/ns/b/sa/y"] }'),
  allow('by-namespace', '/namespace', '{ namespaces: ["b"] }'),
  allow('not-namespace', '/not-namespace', '{ notNamespaces: ["b"] }'),
  allow('by-sa', '/sa', '{ serviceAccounts: ["b/y"] }'),
  allow('by-trust-domain', '/td', '{ trustDomains: ["partner.example"] }'),
  allow('legacy-namespace', '/legacy', '{ namespaces: ["legacy"] }'),
];

const servers: MeshServer[] = [];
afterEach(async () => {
  await Promise.all(
    servers.splice(0).map(
      (s) =>
        new Promise<void>((resolve) => {
          s.closeAllConnections();
          s.close(() => resolve());
        }),
    ),
  );
});

/** A mesh server whose handler answers with the inbound engine's verdict and the peer it saw. */
async function start(): Promise<number> {
  const plan = planFor(httpbin('foo'), POLICIES);
  const engine = createInboundEngine({
    getPlan: () => plan,
    jwt: fakeJwt(),
    clock: createManualClock(),
    random: seededRandom(3),
  });
  const server = createMeshServer({
    getPlan: () => plan,
    certs: await certSourceFor('foo', 'httpbin'),
    handler: (req: IncomingMessage, res: ServerResponse) => {
      void engine.decide(toInboundRequestVia(req, { peerOf: peerFromSocket })).then((d) => {
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({ verdict: d.allow ? 'allow' : d.status, peer: d.allow ? d.context.peer : null }),
        );
      });
    },
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

async function verdicts(uris: readonly string[], paths: readonly string[]) {
  const ca = await sharedCa();
  const client = { ...certWithSans(ca, uris), ca: ca.rootCertPem };
  const port = await start();
  const out: Record<string, unknown> = {};
  let peer: unknown = null;
  for (const path of paths) {
    const body = (await tlsGet(port, client, { path })).body as unknown as {
      verdict: unknown;
      peer: unknown;
    };
    out[path] = body.verdict;
    peer ??= body.peer;
  }
  // The peer the app saw on the first allowed request.
  return { verdicts: out, peer };
}

describe('a client certificate with several URI SANs', () => {
  it('matches principals, namespaces, serviceAccounts and trustDomains against its second SPIFFE ID', async () => {
    const got = await verdicts(
      ['spiffe://cluster.local/ns/a/sa/x', 'spiffe://partner.example/ns/b/sa/y'],
      ['/principal', '/namespace', '/not-namespace', '/sa', '/td'],
    );
    expect(got.verdicts).toEqual({
      '/principal': 'allow',
      '/namespace': 'allow',
      '/not-namespace': 403,
      '/sa': 'allow',
      '/td': 'allow',
    });
    // request.meshlet.peer stays one identity: the first SPIFFE ID the mesh accepted.
    expect(got.peer).toMatchObject({ principal: 'cluster.local/ns/a/sa/x' });
  });

  it('matches a namespaces regex against a URI SAN that is not a SPIFFE ID', async () => {
    const got = await verdicts(
      ['https://legacy.example/ns/legacy/app', 'spiffe://cluster.local/ns/b/sa/y'],
      ['/legacy', '/namespace'],
    );
    expect(got.verdicts).toEqual({ '/legacy': 'allow', '/namespace': 'allow' });
    expect(got.peer).toMatchObject({ principal: 'cluster.local/ns/b/sa/y' });
  });
});
