import http from 'node:http';
import https from 'node:https';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createMesh,
  MeshletError,
  type ClientTlsEvent,
  type Mesh,
  type GatewayCredentials as MountedCredentials,
  type WorkloadIdentity,
} from '../../packages/core/src/index.js';
import {
  createDevCa,
  issueWorkloadCertificate,
  type CertificateAuthority,
} from '../../packages/core/src/identity/dev-ca.js';
import { useTmpDir } from '../../packages/core/test/helpers/tmp.js';
import { systemClock, type Clock } from '../../packages/core/src/runtime/clock.js';
import { writeWorkloadCertificates } from '../../packages/core/src/identity/cert-files.js';
import { runProxyConfig } from '../../packages/core/src/cli/proxy-config.js';
import { captureIO } from '../../packages/core/test/cli/support.js';

// DestinationRule `tls.credentialName`: TLS origination with a Kubernetes secret, as in
// istio.io's "Egress TLS Origination" task (mutual TLS origination at the sidecar, its
// DestinationRule with a workloadSelector) and "Egress Gateways with TLS Origination"
// (at the egress gateway). istiod's rules (pilot/pkg/networking/core/cluster_tls.go
// buildUpstreamClusterTLSContext, security/model ApplyCustomSDSToClientCommonTLSContext,
// credentials/kube/secrets.go): MUTUAL presents the secret's certificate, the server is
// checked against `<name>-cacert` (else the secret's own ca.crt), and a sidecar whose
// DestinationRule has no workloadSelector gets the cluster without TLS.

const NGINX = 'my-nginx.mesh-external.svc.cluster.local';
const CURL = { name: 'curl', namespace: 'default', serviceAccount: 'curl', labels: { app: 'curl' } };
const EGRESS = {
  name: 'istio-egressgateway',
  namespace: 'istio-system',
  serviceAccount: 'istio-egressgateway-service-account',
  labels: { istio: 'egressgateway' },
};

const tmp = useTmpDir();
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

let serverCa: CertificateAuthority;
let clientCa: CertificateAuthority;
let strangerCa: CertificateAuthority;
beforeAll(async () => {
  serverCa = await createDevCa({ commonName: 'my-nginx CA' });
  clientCa = await createDevCa({ commonName: 'client CA' });
  strangerCa = await createDevCa({ commonName: 'a CA nobody trusts' });
});

async function issue(authority: CertificateAuthority, serviceAccount: string, dns: string[] = []) {
  return issueWorkloadCertificate({ ca: authority, namespace: 'default', serviceAccount, dnsNames: dns });
}

/** my-nginx: HTTPS that requires a client certificate of the client CA; answers with the client's SAN. */
async function nginx(requireClientCert = true): Promise<number> {
  const cert = await issue(serverCa, 'my-nginx', [NGINX]);
  const server = https.createServer(
    {
      cert: cert.certChainPem,
      key: cert.keyPem,
      ca: clientCa.rootCertPem,
      requestCert: requireClientCert,
      rejectUnauthorized: requireClientCert,
    },
    (req, res) => {
      const peer = (req.socket as TLSSocket).getPeerCertificate();
      res.end(`tls client=${peer.subjectaltname ?? 'none'}`);
    },
  );
  return serve(server);
}

async function plain(): Promise<number> {
  return serve(http.createServer((_req, res) => res.end('plaintext')));
}

async function serve(server: http.Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanup.push(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return (server.address() as AddressInfo).port;
}

/** A secret's files as Kubernetes mounts them. */
async function secret(dir: string, files: Record<string, string>): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
}

/** The client credential of the task: the client certificate, and the CA my-nginx's chain reaches. */
async function clientCredential(root: string, name = 'client-credential'): Promise<void> {
  const c = await issue(clientCa, 'curl');
  await secret(path.join(root, name), {
    'tls.crt': c.certChainPem,
    'tls.key': c.keyPem,
    'ca.crt': serverCa.rootCertPem,
  });
}

/** The task's ServiceEntry (port 80 to my-nginx's 443) and DestinationRule. */
function config(port: number, tls: string, selector: boolean): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: originate-mtls-for-nginx, namespace: default }
spec:
  hosts: [${NGINX}]
  ports:
  - { number: 80, name: http-port, protocol: HTTP, targetPort: 443 }
  - { number: 443, name: https-port, protocol: HTTPS }
  resolution: STATIC
  location: MESH_EXTERNAL
  endpoints: [{ address: 127.0.0.1, ports: { http-port: ${port}, https-port: ${port} } }]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: originate-mtls-for-nginx, namespace: default }
spec:
${selector ? '  workloadSelector: { matchLabels: { app: curl } }\n' : ''}  host: ${NGINX}
  trafficPolicy:
    loadBalancer: { simple: ROUND_ROBIN }
    portLevelSettings:
    - port: { number: 80 }
      tls: { ${tls} }
`;
}

const MUTUAL = `mode: MUTUAL, credentialName: client-credential, sni: ${NGINX}`;

async function mesh(
  yaml: string,
  options: {
    workload?: WorkloadIdentity;
    credentials?: MountedCredentials;
    transport?: 'got' | 'undici';
    certs?: string;
    admin?: boolean;
  } = {},
): Promise<Mesh> {
  const dir = await tmp();
  await writeFile(path.join(dir, 'config.yaml'), yaml);
  const m = await createMesh({
    config: dir,
    clock,
    workload: options.workload ?? CURL,
    ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
    ...(options.transport === undefined ? {} : { transport: options.transport }),
    ...(options.certs === undefined ? {} : { certs: options.certs }),
    ...(options.admin === true ? { admin: { port: 0 } } : {}),
  });
  cleanup.push(() => m.close());
  return m;
}

async function call(m: Mesh) {
  const res = await m.fetch(`http://${NGINX}/index.html`);
  return { status: res.status, flags: res.meshlet.flags, body: await res.text() };
}

/**
 * The system clock with a `now()` the test moves on: a mounted credential is read again once
 * a second of the mesh's clock has passed (client-credentials.ts), so no test waits on the wall.
 * Timers stay real; the step comes between calls.
 */
let skewMs = 0;
const clock: Clock = { ...systemClock, now: () => systemClock.now() + skewMs };
const aSecondLater = (): void => {
  skewMs += 1_000;
};

describe.each(['got', 'undici'] as const)('DestinationRule credentialName over %s', (transport) => {
  it("MUTUAL at the sidecar, its DestinationRule selecting the workload: the secret's certificate is presented and my-nginx is checked against its CA", async () => {
    const port = await nginx();
    const credentials = await tmp();
    await clientCredential(credentials);
    const m = await mesh(config(port, MUTUAL, true), { credentials, transport });
    const r = await call(m);
    expect(r.status).toBe(200);
    expect(r.body).toBe('tls client=URI:spiffe://cluster.local/ns/default/sa/curl');
  });

  it('MUTUAL at the egress gateway, the DestinationRule selecting nothing', async () => {
    const port = await nginx();
    const credentials = await tmp();
    await clientCredential(credentials, 'nginx-client');
    const m = await mesh(config(port, MUTUAL.replace('client-credential', 'nginx-client'), false), {
      workload: EGRESS,
      credentials: { 'nginx-client': path.join(credentials, 'nginx-client') },
      transport,
    });
    expect(await call(m)).toMatchObject({
      status: 200,
      body: 'tls client=URI:spiffe://cluster.local/ns/default/sa/curl',
    });
  });
});

describe('DestinationRule credentialName: where istiod reads the secret', () => {
  it('a sidecar whose DestinationRule has no workloadSelector gets the cluster without TLS, as istiod builds it', async () => {
    const credentials = await tmp();
    await clientCredential(credentials);
    const plainPort = await plain();
    const sidecar = await mesh(config(plainPort, MUTUAL, false), { credentials });
    expect(await call(sidecar)).toMatchObject({ status: 200, body: 'plaintext' });
    // The same cluster with the selector speaks TLS, which a plaintext server cannot answer.
    const selected = await mesh(config(plainPort, MUTUAL, true), { credentials });
    const refused = await call(selected);
    expect(refused.status).toBe(503);
    expect(refused.flags).toContain('UF');
  });

  it("a secret not mounted fails each connection as Envoy's TLS socket waiting for SDS does, until it appears", async () => {
    const port = await nginx();
    const credentials = await tmp();
    const m = await mesh(config(port, MUTUAL, true), { credentials });
    const events: ClientTlsEvent[] = [];
    m.on('clientTls', (e) => events.push(e));
    const missing = await call(m);
    // The sidecar's default retries (connect-failure) try twice more: URX.
    // The mesh says why, once, and what to do.
    expect(events).toEqual([
      {
        type: 'unavailable',
        resource: 'kubernetes://client-credential',
        reason: expect.stringContaining('secret client-credential is not mounted with tls.crt and tls.key'),
      },
    ]);
    expect(missing).toMatchObject({ status: 503, flags: ['UF', 'URX'] });
    expect(missing.body).toBe(
      'upstream connect error or disconnect/reset before headers. reset reason: remote connection failure, transport failure reason: TLS error: Secret is not supplied by SDS',
    );
    // Without createMesh({ credentials }) at all, the same.
    const none = await mesh(config(port, MUTUAL, true));
    expect((await call(none)).body).toContain('TLS error: Secret is not supplied by SDS');
    // Mounted later (a secret created after the DestinationRule): read within a second.
    await clientCredential(credentials);
    aSecondLater();
    expect((await call(m)).status).toBe(200);
    expect(events.map((e) => e.type)).toEqual(['unavailable', 'loaded']);
  });

  it('the CA comes from the "<name>-cacert" secret before the secret\'s own ca.crt (secrets.go GetCaCert)', async () => {
    const port = await nginx();
    const credentials = await tmp();
    const c = await issue(clientCa, 'curl');
    // The secret's own ca.crt is not the CA my-nginx's certificate chains to...
    await secret(path.join(credentials, 'client-credential'), {
      'tls.crt': c.certChainPem,
      'tls.key': c.keyPem,
      'ca.crt': strangerCa.rootCertPem,
    });
    const wrongCa = await mesh(config(port, MUTUAL, true), { credentials });
    expect(await call(wrongCa)).toMatchObject({ status: 503, flags: ['UF', 'URX'] });
    // ...and a -cacert secret beside it (generic keys: `cacert`) is the one used.
    await secret(path.join(credentials, 'client-credential-cacert'), { cacert: serverCa.rootCertPem });
    const withCacert = await mesh(config(port, MUTUAL, true), { credentials });
    expect((await call(withCacert)).status).toBe(200);
  });

  it('SIMPLE reads only the CA', async () => {
    const port = await nginx(false);
    const credentials = await tmp();
    await secret(path.join(credentials, 'nginx-ca'), { 'ca.crt': serverCa.rootCertPem });
    const simple = await mesh(config(port, `mode: SIMPLE, credentialName: nginx-ca, sni: ${NGINX}`, true), {
      credentials,
    });
    expect(await call(simple)).toMatchObject({ status: 200, body: 'tls client=none' });
    const untrusted = await tmp();
    await secret(path.join(untrusted, 'nginx-ca'), { 'ca.crt': strangerCa.rootCertPem });
    const refused = await mesh(config(port, `mode: SIMPLE, credentialName: nginx-ca, sni: ${NGINX}`, true), {
      credentials: untrusted,
    });
    expect((await call(refused)).status).toBe(503);
  });

  it('configmap:// names a CA bundle, which a sidecar reads without a workloadSelector (not a secret)', async () => {
    const port = await nginx(false);
    const credentials = await tmp();
    await secret(path.join(credentials, 'nginx-ca'), { 'ca.crt': serverCa.rootCertPem });
    const simple = await mesh(
      config(port, `mode: SIMPLE, credentialName: "configmap://default/nginx-ca", sni: ${NGINX}`, false),
      { credentials },
    );
    expect(await call(simple)).toMatchObject({ status: 200, body: 'tls client=none' });
    const mutual = await mesh(
      config(port, `mode: MUTUAL, credentialName: "configmap://nginx-ca", sni: ${NGINX}`, false),
      { credentials },
    );
    expect((await call(mutual)).body).toContain('TLS error: Secret is not supplied by SDS');
  });

  it('a renewed secret is used for new connections; one that does not load keeps the last good one', async () => {
    const port = await nginx();
    const credentials = await tmp();
    await clientCredential(credentials);
    const m = await mesh(config(port, MUTUAL, true), { credentials });
    const events: ClientTlsEvent[] = [];
    m.on('clientTls', (e) => events.push(e));
    expect((await call(m)).status).toBe(200);
    const dir = path.join(credentials, 'client-credential');
    // Half-written: a key cut short. The last good certificate stays.
    await writeFile(path.join(dir, 'tls.key'), '-----BEGIN PRIVATE KEY-----\nMIIE');
    aSecondLater();
    expect((await call(m)).status).toBe(200);
    // Renewed with a certificate my-nginx does not trust: new connections present it, and
    // my-nginx closes them (under TLS 1.3 after the client's handshake is done: UC).
    const stranger = await issue(strangerCa, 'curl');
    await writeFile(path.join(dir, 'tls.crt'), stranger.certChainPem);
    await writeFile(path.join(dir, 'tls.key'), stranger.keyPem);
    aSecondLater();
    expect((await call(m)).status).toBe(503);
    // Renewed again with a good one.
    await rm(dir, { recursive: true });
    await clientCredential(credentials);
    aSecondLater();
    expect((await call(m)).status).toBe(200);
    expect(events.map((e) => e.type)).toEqual(['loaded', 'rejected', 'rotated', 'rotated']);
    expect(events[1]).toMatchObject({ resource: 'kubernetes://client-credential', reason: /does not load/ });
  });

  it('mesh.connect to a TCP port whose credential is not mounted is refused with the reason', async () => {
    const port = await nginx();
    const yaml = config(port, MUTUAL, true).replace('protocol: HTTPS }', 'protocol: TCP }');
    const m = await mesh(
      yaml.replace(
        `- port: { number: 80 }\n      tls: { ${MUTUAL} }`,
        `- port: { number: 443 }\n      tls: { ${MUTUAL} }`,
      ),
      { credentials: await tmp() },
    );
    const err = await m.connect({ host: NGINX, port: 443 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MeshletError);
    expect((err as MeshletError).code).toBe('MESHLET_ERR_OUTBOUND_CONNECT');
    expect((err as MeshletError).message).toContain('TLS error: Secret is not supplied by SDS');
    expect((err as MeshletError).message).toContain('(UF)');
  });
});

describe('DestinationRule tls files (clientCertificate, privateKey, caCertificates)', () => {
  const files = (dir: string) =>
    `mode: MUTUAL, clientCertificate: ${dir}/cert.pem, privateKey: ${dir}/key.pem, caCertificates: ${dir}/ca.pem, sni: ${NGINX}`;

  it('are read again as the istio-agent serves them, so a renewed client certificate is used without a restart', async () => {
    const port = await nginx();
    const dir = await tmp();
    // The mounted certificate is one my-nginx does not accept (about to be renewed).
    const old = await issue(strangerCa, 'curl');
    await secret(dir, {
      'cert.pem': old.certChainPem,
      'key.pem': old.keyPem,
      'ca.pem': serverCa.rootCertPem,
    });
    const m = await mesh(config(port, files(dir), false));
    expect((await call(m)).status).toBe(503);
    const renewed = await issue(clientCa, 'curl');
    await secret(dir, { 'cert.pem': renewed.certChainPem, 'key.pem': renewed.keyPem });
    aSecondLater();
    expect(await call(m)).toMatchObject({
      status: 200,
      body: 'tls client=URI:spiffe://cluster.local/ns/default/sa/curl',
    });
  });

  it('a file that is not there fails each connection as a secret SDS never supplied', async () => {
    const port = await nginx();
    const dir = await tmp();
    const m = await mesh(config(port, files(dir), false));
    const r = await call(m);
    expect(r).toMatchObject({ status: 503, flags: ['UF', 'URX'] });
    expect(r.body).toContain('transport failure reason: TLS error: Secret is not supplied by SDS');
  });
});

describe('meshlet proxy-config secret', () => {
  it("lists the workload's certificates and the credentials DestinationRules asked for, WARMING while one is not mounted", async () => {
    const port = await nginx();
    const certs = await tmp();
    await writeWorkloadCertificates(certs, await issue(clientCa, 'curl'), 'istio');
    const credentials = await tmp();
    await clientCredential(credentials);
    const m = await mesh(config(port, MUTUAL, true), { credentials, certs, admin: true });
    expect((await call(m)).status).toBe(200);
    const io = captureIO();
    expect(await runProxyConfig(['secret', m.admin?.url ?? ''], io)).toBe(0);
    const [header, ...rows] = io.out().trimEnd().split('\n');
    expect(header).toMatch(
      /^RESOURCE NAME\s+TYPE\s+STATUS\s+VALID CERT\s+SERIAL NUMBER\s+NOT AFTER\s+NOT BEFORE$/,
    );
    const cells = rows.map((r) => r.split(/\s{2,}/));
    expect(cells.map((c) => c.slice(0, 4))).toEqual([
      ['default', 'Cert Chain', 'ACTIVE', 'true'],
      ['ROOTCA', 'CA', 'ACTIVE', 'true'],
      ['kubernetes://client-credential', 'Cert Chain', 'ACTIVE', 'true'],
      ['kubernetes://client-credential-cacert', 'CA', 'ACTIVE', 'true'],
    ]);
    for (const c of cells) {
      expect(c[4]).toMatch(/^[0-9a-f]{32}$/);
      expect(c[5]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    }

    // A secret the rule names that is not mounted: istioctl's WARMING line, nothing else known.
    const missing = await mesh(config(port, MUTUAL.replace('client-credential', 'absent'), true), {
      credentials,
      admin: true,
    });
    expect((await call(missing)).status).toBe(503);
    const warm = captureIO();
    expect(await runProxyConfig(['secrets', missing.admin?.url ?? ''], warm)).toBe(0);
    expect(
      warm
        .out()
        .trimEnd()
        .split('\n')
        .slice(1)
        .map((r) => r.trim().split(/\s+/)),
    ).toEqual([
      ['kubernetes://absent', 'WARMING', 'false'],
      ['kubernetes://absent-cacert', 'WARMING', 'false'],
    ]);
  });
});
