import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMesh, type Mesh } from '../../packages/core/src/index.js';
import { useTmpDir } from '../../packages/core/test/helpers/tmp.js';
import { createOpensslCa, type IssuedCert, type OpensslCa } from '../support/openssl-ca.js';

// DestinationRule SIMPLE origination to HTTPS servers on loopback, as Istio builds the
// upstream TLS context (istio pilot/pkg/networking/core/cluster_tls.go
// constructUpstreamTLS, setAutoSniAndAutoSanValidation): insecureSkipVerify, caCrl, the
// ServiceEntry's subjectAltNames, and an explicit sni without subjectAltNames.

const tmp = useTmpDir();
let ca: OpensslCa;
let otherCa: OpensslCa;
const closers: (() => Promise<unknown>)[] = [];
const open: Mesh[] = [];

// The CAs outlive each test's temporary directory.
const caDirs: string[] = [];
const caDir = async () => {
  const d = await mkdtemp(path.join(tmpdir(), 'meshlet-ca-'));
  caDirs.push(d);
  return d;
};

beforeAll(async () => {
  ca = await createOpensslCa(await caDir());
  otherCa = await createOpensslCa(await caDir(), 'another CA');
}, 60_000);
afterEach(async () => {
  for (const m of open.splice(0)) await m.close();
});
afterAll(async () => {
  for (const close of closers.splice(0)) await close();
  await Promise.all(caDirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** An HTTPS server on loopback presenting `cert`; answers `ok`. */
async function upstream(cert: IssuedCert): Promise<number> {
  const server = createHttpsServer({ cert: cert.cert, key: cert.key }, (_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise((resolve) => server.close(resolve)));
  return (server.address() as AddressInfo).port;
}

/** A ServiceEntry for `host` on `port` and a DestinationRule with `tls` (YAML lines under `tls:`). */
function config(host: string, port: number, tls: readonly string[], seSans?: readonly string[]): string {
  const sans = seSans === undefined ? '' : `\n  subjectAltNames: [${seSans.join(', ')}]`;
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ${host.split('.')[0]}, namespace: default }
spec:
  hosts: [${host}]
  ports: [{ number: 80, name: http, protocol: HTTP }]
  resolution: STATIC
  location: MESH_EXTERNAL
  endpoints: [{ address: 127.0.0.1, ports: { http: ${port} } }]${sans}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: ${host.split('.')[0]}, namespace: default }
spec:
  host: ${host}
  trafficPolicy:
    tls:
${tls.map((l) => `      ${l}`).join('\n')}
`;
}

describe.each(['got', 'undici'] as const)('DestinationRule SIMPLE TLS over %s', (transport) => {
  async function call(yaml: string, host: string) {
    const dir = await tmp();
    await writeFile(path.join(dir, 'config.yaml'), yaml);
    const m = await createMesh({
      config: dir,
      workload: { name: 'app', namespace: 'default', serviceAccount: 'app', labels: { app: 'app' } },
      transport,
    });
    open.push(m);
    const res = await m.fetch(`http://${host}/`);
    return { status: res.status, flags: res.meshlet.flags, body: await res.text() };
  }

  it('insecureSkipVerify accepts a server no trusted CA signed, under another name, as Istio drops the validation context', async () => {
    const port = await upstream(await otherCa.issue('backend', ['backend.internal']));
    const refused = await call(
      config('api.example.com', port, ['mode: SIMPLE', `caCertificates: ${ca.caFile}`]),
      'api.example.com',
    );
    expect(refused.status).toBe(503);
    expect(refused.flags).toContain('UF');
    // Istio's validation forbids caCertificates and subjectAltNames beside it.
    const skipped = await call(
      config('api.example.com', port, ['mode: SIMPLE', 'insecureSkipVerify: true']),
      'api.example.com',
    );
    expect(skipped).toMatchObject({ status: 200, body: 'ok' });
  });

  it('caCrl refuses a revoked server certificate and accepts an unrevoked one of the same CA', async () => {
    const revokedCert = await ca.issue('revoked', ['revoked.example.com']);
    const goodCert = await ca.issue('good', ['good.example.com']);
    await ca.revoke(revokedCert);
    const crl = await ca.crl();
    const revokedPort = await upstream(revokedCert);
    const goodPort = await upstream(goodCert);
    const tls = ['mode: SIMPLE', `caCertificates: ${ca.caFile}`];
    // Without the CRL the revoked certificate is only a certificate of a trusted CA.
    expect((await call(config('revoked.example.com', revokedPort, tls), 'revoked.example.com')).status).toBe(
      200,
    );
    const withCrl = [...tls, `caCrl: ${crl}`];
    const revoked = await call(config('revoked.example.com', revokedPort, withCrl), 'revoked.example.com');
    expect(revoked.status).toBe(503);
    expect(revoked.flags).toContain('UF');
    expect(await call(config('good.example.com', goodPort, withCrl), 'good.example.com')).toMatchObject({
      status: 200,
      body: 'ok',
    });
  });

  it("checks the server against the ServiceEntry's subjectAltNames when the rule lists none", async () => {
    // The server's name is not the host called, but it is the one the ServiceEntry names.
    const port = await upstream(await ca.issue('backend', ['backend.internal']));
    const tls = ['mode: SIMPLE', `caCertificates: ${ca.caFile}`];
    const byHost = await call(config('api.example.com', port, tls), 'api.example.com');
    expect(byHost.status).toBe(503);
    expect(byHost.flags).toContain('UF');
    expect(
      await call(config('api.example.com', port, tls, ['backend.internal']), 'api.example.com'),
    ).toMatchObject({
      status: 200,
      body: 'ok',
    });
    // The rule's own subjectAltNames win over the ServiceEntry's.
    const ruleWins = await call(
      config('api.example.com', port, [...tls, 'subjectAltNames: [api.example.com]'], ['backend.internal']),
      'api.example.com',
    );
    expect(ruleWins.status).toBe(503);
  });

  it('an explicit sni without subjectAltNames checks the chain and not the name', async () => {
    const trusted = await upstream(await ca.issue('backend', ['backend.internal']));
    const untrusted = await upstream(await otherCa.issue('backend', ['backend.internal']));
    const tls = ['mode: SIMPLE', `caCertificates: ${ca.caFile}`, 'sni: api.example.com'];
    expect(await call(config('api.example.com', trusted, tls), 'api.example.com')).toMatchObject({
      status: 200,
      body: 'ok',
    });
    const wrongCa = await call(config('api.example.com', untrusted, tls), 'api.example.com');
    expect(wrongCa.status).toBe(503);
    expect(wrongCa.flags).toContain('UF');
  });
});
