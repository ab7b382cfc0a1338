import { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createDevCa, issueWorkloadCertificate } from '../../../src/identity/dev-ca.js';
import { peerFromSocket } from '../../../src/inbound/server/peer-registry.js';
import {
  certSourceFor,
  certlessClient,
  connectionError,
  httpbin,
  meshClient,
  planFor,
  plainGet,
  sampleText,
  startServer,
  tlsGet,
} from './support.js';

const FOO = httpbin('foo');
const strictFoo = () =>
  planFor(FOO, [{ text: sampleText('tasks/authn-policy/02-peerauthentication-namespace-foo-strict.yaml') }]);
const disableFoo = () =>
  planFor(FOO, [{ text: sampleText('tasks/authn-policy/05-peerauthentication-overwrite-example.yaml') }]);

describe('createMeshServer under STRICT', () => {
  it('serves a mesh client and exposes its verified SPIFFE identity', async () => {
    const plan = strictFoo();
    const { port } = await startServer({ getPlan: () => plan, certs: await certSourceFor('foo', 'httpbin') });
    const reply = await tlsGet(port, await meshClient('bar', 'sleep'));
    expect(reply.status).toBe(200);
    expect(reply.body.peer).toEqual({
      principal: 'cluster.local/ns/bar/sa/sleep',
      trustDomain: 'cluster.local',
      namespace: 'bar',
      serviceAccount: 'sleep',
    });
    expect(reply.body.encrypted).toBe(true);
  });

  it('closes plaintext at the connection, without any HTTP status', async () => {
    const plan = strictFoo();
    const { port, refusals } = await startServer({
      getPlan: () => plan,
      certs: await certSourceFor('foo', 'httpbin'),
    });
    const err = await connectionError(plainGet(port));
    expect(err.code).toBe('ECONNRESET');
    expect(refusals.map((r) => r.reason)).toEqual(['plaintext-in-strict']);
  });

  it('refuses a TLS client without a certificate', async () => {
    const plan = strictFoo();
    const { port, refusals } = await startServer({
      getPlan: () => plan,
      certs: await certSourceFor('foo', 'httpbin'),
    });
    const err = await connectionError(tlsGet(port, await certlessClient()));
    expect(String(err.code ?? err.message)).toMatch(/CERTIFICATE_REQUIRED|ECONNRESET|alert/i);
    await expect.poll(() => refusals.map((r) => r.reason)).toEqual(['no-client-certificate']);
  });

  it('refuses a client certificate from another CA', async () => {
    const plan = strictFoo();
    const { port, refusals } = await startServer({
      getPlan: () => plan,
      certs: await certSourceFor('foo', 'httpbin'),
    });
    const foreignCa = await createDevCa({ commonName: 'foreign' });
    const foreign = await issueWorkloadCertificate({
      ca: foreignCa,
      namespace: 'bar',
      serviceAccount: 'sleep',
    });
    const mesh = await certlessClient();
    await connectionError(tlsGet(port, { key: foreign.keyPem, cert: foreign.certChainPem, ca: mesh.ca }));
    await expect.poll(() => refusals.map((r) => r.reason)).toEqual(['untrusted-peer']);
    expect(refusals[0]?.detail).toMatch(/not verified/);
  });

  it('refuses a peer from another trust domain and accepts one from an alias', async () => {
    const aliased = planFor(
      FOO,
      [{ text: sampleText('tasks/authn-policy/02-peerauthentication-namespace-foo-strict.yaml') }],
      { trustDomain: 'cluster.local', trustDomainAliases: ['old.example.org'] },
    );
    const { port, refusals } = await startServer({
      getPlan: () => aliased,
      certs: await certSourceFor('foo', 'httpbin'),
    });
    await connectionError(tlsGet(port, await meshClient('bar', 'sleep', 'evil.example.org')));
    await expect.poll(() => refusals.map((r) => r.reason)).toEqual(['untrusted-peer']);
    expect(refusals[0]?.detail).toContain('evil.example.org');
    const ok = await tlsGet(port, await meshClient('bar', 'sleep', 'old.example.org'));
    expect(ok.body.peer).toMatchObject({
      principal: 'old.example.org/ns/bar/sa/sleep',
      trustDomain: 'old.example.org',
    });
  });

  it('refuses every connection when it has no certificates', async () => {
    const plan = strictFoo();
    const { port, refusals } = await startServer({ getPlan: () => plan, certs: null });
    await connectionError(tlsGet(port, await meshClient('bar', 'sleep')));
    await connectionError(plainGet(port));
    await expect
      .poll(() => refusals.map((r) => r.reason).sort())
      .toEqual(['no-workload-certificates', 'plaintext-in-strict']);
  });
});

describe('createMeshServer under PERMISSIVE', () => {
  it('serves mTLS and plaintext on one port, and refuses TLS without a client certificate', async () => {
    // istio pilot/pkg/security/authn/utils/utils.go BuildInboundTLS: the mTLS filter chain
    // always sets RequireClientCertificate, and an HTTP port has no one-way TLS chain, so a
    // TLS client without a certificate fails its handshake under PERMISSIVE as under STRICT.
    const plan = planFor(FOO); // no policy: PERMISSIVE
    expect(plan.inbound.peerAuthentication.mode).toBe('PERMISSIVE');
    const { port, refusals } = await startServer({
      getPlan: () => plan,
      certs: await certSourceFor('foo', 'httpbin'),
    });
    const mtls = await tlsGet(port, await meshClient('bar', 'sleep'));
    const plain = await plainGet(port, { path: '/headers?x=1' });
    expect([mtls.status, plain.status]).toEqual([200, 200]);
    expect(mtls.body.peer).toMatchObject({ principal: 'cluster.local/ns/bar/sa/sleep' });
    expect(plain.body).toMatchObject({ peer: null, encrypted: false, url: '/headers?x=1' });
    await connectionError(tlsGet(port, await certlessClient()));
    await expect
      .poll(() => refusals.map((r) => [r.reason, r.mode]))
      .toEqual([['no-client-certificate', 'PERMISSIVE']]);
  });

  it('still fails a client certificate that does not verify, as Envoy validates any presented certificate', async () => {
    const plan = planFor(FOO);
    const { port, refusals } = await startServer({
      getPlan: () => plan,
      certs: await certSourceFor('foo', 'httpbin'),
    });
    const foreign = await issueWorkloadCertificate({
      ca: await createDevCa(),
      namespace: 'bar',
      serviceAccount: 'sleep',
    });
    await connectionError(
      tlsGet(port, { key: foreign.keyPem, cert: foreign.certChainPem, ca: (await certlessClient()).ca }),
    );
    await expect.poll(() => refusals.map((r) => r.reason)).toEqual(['untrusted-peer']);
  });

  it('serves plaintext only when it has no certificates', async () => {
    const plan = planFor(FOO);
    const { port } = await startServer({ getPlan: () => plan, certs: null });
    expect((await plainGet(port)).status).toBe(200);
    await connectionError(tlsGet(port, await meshClient('bar', 'sleep')));
  });

  it('serves many requests on one kept-alive plaintext connection after sniffing', async () => {
    const plan = planFor(FOO);
    const { port } = await startServer({ getPlan: () => plan, certs: await certSourceFor('foo', 'httpbin') });
    const socket = new Socket();
    await new Promise<void>((r) => socket.connect(port, '127.0.0.1', r));
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (c: string) => (text += c));
    socket.write('GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n');
    await expect.poll(() => (text.match(/HTTP\/1\.1 200/g) ?? []).length).toBe(2);
    expect(text).toContain('"url":"/a"');
    expect(text).toContain('"url":"/b"');
    expect(peerFromSocket(socket)).toBeNull();
    socket.destroy();
  });
});

describe('createMeshServer under DISABLE', () => {
  it('serves plaintext and does not speak TLS', async () => {
    const plan = disableFoo();
    expect(plan.inbound.peerAuthentication.mode).toBe('DISABLE');
    const { port } = await startServer({ getPlan: () => plan, certs: await certSourceFor('foo', 'httpbin') });
    const plain = await plainGet(port);
    expect(plain.body).toMatchObject({ peer: null, encrypted: false });
    await connectionError(tlsGet(port, await meshClient('bar', 'sleep')));
  });
});

describe('createMeshServer port-level mTLS', () => {
  it('applies portLevelMtls from the Istio sample to the port a connection arrived on', async () => {
    const certs = await certSourceFor('bar', 'httpbin');
    const other = await startServer({ getPlan: () => planFor(httpbin('bar')), certs });
    // The sample disables mTLS on container port 8080; give that role to a real ephemeral port.
    const disabledPort = other.port;
    await new Promise<void>((r) => other.server.close(() => r()));
    const yaml = sampleText(
      'tasks/authn-policy/04-peerauthentication-httpbin-bar-port-8080-disable.yaml',
    ).replace(/^(\s+)8080:/m, `$1${disabledPort}:`);
    const plan = planFor(httpbin('bar'), [{ text: yaml }]);
    expect(plan.inbound.peerAuthentication.modeFor(disabledPort)).toBe('DISABLE');
    const strictSrv = await startServer({ getPlan: () => plan, certs });
    const disabledSrv = await startServer({ getPlan: () => plan, certs, port: disabledPort });
    expect(disabledSrv.port).toBe(disabledPort);
    await connectionError(plainGet(strictSrv.port));
    expect((await tlsGet(strictSrv.port, await meshClient('foo', 'sleep'))).status).toBe(200);
    expect((await plainGet(disabledPort)).status).toBe(200);
    await connectionError(tlsGet(disabledPort, await meshClient('foo', 'sleep')));
  });
});

describe('createMeshServer without a plan', () => {
  it('fails closed when the plan cannot be read', async () => {
    const { port, refusals } = await startServer({
      getPlan: () => {
        throw new Error('plan not compiled yet');
      },
      certs: await certSourceFor('foo', 'httpbin'),
    });
    await connectionError(plainGet(port));
    await connectionError(tlsGet(port, await meshClient('bar', 'sleep')));
    expect(refusals.map((r) => r.reason)).toEqual(['no-plan', 'no-plan']);
  });
});

describe('peerFromSocket', () => {
  it('returns null for a socket the mesh server did not accept', () => {
    expect(peerFromSocket(new Socket())).toBeNull();
  });
});
