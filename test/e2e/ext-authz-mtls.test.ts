import * as grpc from '@grpc/grpc-js';
import express from 'express';
import Fastify from 'fastify';
import { mkdir, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMesh, type Mesh } from '../../packages/core/src/index.js';
import {
  createDevCa,
  issueWorkloadCertificate,
  type CertificateAuthority,
  type IssuedCertificate,
} from '../../packages/core/src/identity/dev-ca.js';
import { writeWorkloadCertificates } from '../../packages/core/src/identity/cert-files.js';
import {
  ISTIO_SAMPLE_DENY_BODY,
  istioSampleCheck,
  ISTIO_SAMPLE_EXT_AUTHZ_SERVICES,
  istioSampleCustomPolicy,
  startExtAuthzGrpcServer,
  type ExtAuthzGrpcServer,
} from '../../packages/core/test/helpers/ext-authz-grpc-server.js';
import { istioConfigMap } from '../../packages/core/test/helpers/istio-config-map.js';
import { useTmpDir } from '../../packages/core/test/helpers/tmp.js';
import { meshlet as meshletExpress } from '../../packages/express/src/index.js';
import { meshlet as meshletFastify } from '../../packages/fastify/src/index.js';

// The istio.io authz-custom task with the ext-authz server inside the mesh: the sidecar
// sends each check through the provider service's outbound cluster
// (pilot/pkg/model/telemetry_logging.go LookupCluster → `outbound|<port>||<host>`), so
// auto mTLS presents the workload certificate and checks the server's SPIFFE identity,
// and a provider that accepts only mTLS (STRICT) is reachable. Real TLS on loopback with
// certificates from meshlet's development CA; real HTTPS and gRPC authorization servers.
const DENY_BODY = ISTIO_SAMPLE_DENY_BODY;
const HTTPBIN_ID = 'spiffe://cluster.local/ns/foo/sa/httpbin';

const config = (provider: string, extra = '') =>
  `${istioConfigMap(`
extensionProviders:
- name: ext-authz-http
  envoyExtAuthzHttp:
    service: ext-authz-http.foo.svc.cluster.local
    port: "8000"
    includeRequestHeadersInCheck: ["x-ext-authz"]
- name: ext-authz-http-body
  envoyExtAuthzHttp:
    service: ext-authz-http.foo.svc.cluster.local
    port: "8000"
    includeRequestHeadersInCheck: ["x-ext-authz"]
    includeRequestBodyInCheck: { maxRequestBytes: 64, allowPartialMessage: true }
- name: ext-authz-http-slow
  envoyExtAuthzHttp:
    service: ext-authz-http.foo.svc.cluster.local
    port: "8000"
    timeout: 0.3s
    statusOnError: "503"
- name: ext-authz-grpc
  envoyExtAuthzGrpc:
    service: foo/ext-authz-grpc.foo.svc.cluster.local
    port: "9000"`)}${ISTIO_SAMPLE_EXT_AUTHZ_SERVICES}${istioSampleCustomPolicy(provider)}${extra}`;

interface HttpCheck {
  method: string | undefined;
  body: string;
  partial: string | undefined;
  host: string | undefined;
  peer: string | null;
  attemptCount: string | undefined;
}

const tmp = useTmpDir();
let ca: CertificateAuthority;
let extAuthzCert: IssuedCertificate;
let httpAuthz: HttpsServer;
let impostor: HttpsServer;
/** Completes the mTLS handshake, then never answers. */
let silent: HttpsServer;

let grpcAuthz: ExtAuthzGrpcServer;
const httpChecks: HttpCheck[] = [];

/** An HTTPS ext-authz server that, like a workload under STRICT, accepts only mesh client certificates. */
async function strictHttpsAuthz(cert: IssuedCertificate, answers = true): Promise<HttpsServer> {
  const server = createHttpsServer(
    {
      key: cert.keyPem,
      cert: cert.certChainPem,
      ca: cert.rootCertPem,
      requestCert: true,
      rejectUnauthorized: true,
    },
    (req, res) => {
      const peer = (req.socket as TLSSocket).getPeerCertificate();
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (!answers) return;
        httpChecks.push({
          method: req.method,
          body: Buffer.concat(chunks).toString('utf8'),
          partial: req.headers['x-envoy-auth-partial-body'] as string | undefined,
          host: req.headers.host,
          peer: peer.subjectaltname ?? null,
          attemptCount: req.headers['x-envoy-attempt-count'] as string | undefined,
        });
        const allow = req.headers['x-ext-authz'] === 'allow';
        res.setHeader('x-ext-authz-check-result', allow ? 'allowed' : 'denied');
        res.statusCode = allow ? 200 : 403;
        res.end(allow ? '' : DENY_BODY);
      });
    },
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return server;
}

/** GET /headers with `x-ext-authz: allow`, as the engine takes it, to read a decision's reason. */
const decideRequest = {
  method: 'GET',
  url: '/headers',
  authority: 'httpbin.foo:8000',
  headers: { host: 'httpbin.foo:8000', 'x-ext-authz': 'allow' },
  scheme: 'http',
  port: 8000,
  peer: null,
  sourceIp: '127.0.0.1',
  destinationIp: '127.0.0.1',
  sni: null,
} as const;

const portOf = (s: { address(): AddressInfo | string | null }) => (s.address() as AddressInfo).port;

beforeAll(async () => {
  ca = await createDevCa();
  extAuthzCert = await issueWorkloadCertificate({
    ca,
    namespace: 'foo',
    serviceAccount: 'ext-authz',
    ttl: '1h',
  });
  httpAuthz = await strictHttpsAuthz(extAuthzCert);
  silent = await strictHttpsAuthz(extAuthzCert, false);
  impostor = await strictHttpsAuthz(
    await issueWorkloadCertificate({ ca, namespace: 'foo', serviceAccount: 'impostor', ttl: '1h' }),
  );

  grpcAuthz = await startExtAuthzGrpcServer(
    istioSampleCheck,
    grpc.ServerCredentials.createSsl(
      Buffer.from(extAuthzCert.rootCertPem),
      [{ private_key: Buffer.from(extAuthzCert.keyPem), cert_chain: Buffer.from(extAuthzCert.certChainPem) }],
      true,
    ),
  );
});
afterAll(async () => {
  await grpcAuthz.close();
  for (const s of [httpAuthz, impostor, silent]) {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
});

const meshes: Mesh[] = [];
afterEach(async () => {
  for (const m of meshes.splice(0)) await m.close();
});

/** httpbin in namespace foo with its workload certificate; ext-authz's endpoints on loopback. */
async function httpbinMesh(
  provider: string,
  httpEndpointPort = portOf(httpAuthz),
  extra = '',
): Promise<Mesh> {
  const dir = await tmp();
  await writeFile(path.join(dir, 'mesh.yaml'), config(provider, extra));
  const certs = path.join(await tmp(), 'certs');
  await mkdir(certs);
  await writeWorkloadCertificates(
    certs,
    await issueWorkloadCertificate({ ca, namespace: 'foo', serviceAccount: 'httpbin', ttl: '1h' }),
  );
  const endpoint = (port: number) => [
    { address: '127.0.0.1', port, serviceAccount: 'ext-authz', labels: { app: 'ext-authz' } },
  ];
  const mesh = await createMesh({
    config: dir,
    workload: { name: 'httpbin', namespace: 'foo', serviceAccount: 'httpbin', labels: { app: 'httpbin' } },
    certs,
    endpoints: {
      'ext-authz-http.foo.svc.cluster.local': endpoint(httpEndpointPort),
      'ext-authz-grpc.foo.svc.cluster.local': endpoint(grpcAuthz.port),
    },
  });
  meshes.push(mesh);
  return mesh;
}

async function fastifyApp(mesh: Mesh): Promise<string> {
  const app = Fastify();
  await app.register(meshletFastify, { mesh });
  app.get('/headers', (req) => ({ headers: req.headers }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  return `http://127.0.0.1:${portOf(app.server)}`;
}

async function expressApp(mesh: Mesh): Promise<string> {
  const app = express();
  app.use(meshletExpress({ mesh }));
  app.get('/headers', (req, res) => res.json({ headers: req.headers }));
  const server = await mesh.listen(app, 0, '127.0.0.1');
  return `http://127.0.0.1:${portOf(server)}`;
}

describe('CUSTOM checks reach an in-mesh provider through its cluster, over mTLS', () => {
  it('sends HTTP checks with the workload certificate to a STRICT provider (Fastify)', async () => {
    const mesh = await httpbinMesh('ext-authz-http');
    const base = await fastifyApp(mesh);
    const before = httpChecks.length;

    const allowed = await fetch(`${base}/headers`, { headers: { 'x-ext-authz': 'allow' } });
    expect(allowed.status).toBe(200);
    const denied = await fetch(`${base}/headers`, { headers: { 'x-ext-authz': 'deny' } });
    expect(denied.status).toBe(403);
    expect(await denied.text()).toBe(DENY_BODY);
    expect(denied.headers.get('x-ext-authz-check-result')).toBe('denied');

    const checks = httpChecks.slice(before);
    expect(checks).toHaveLength(2);
    for (const c of checks) {
      // The provider saw httpbin's SPIFFE identity: auto mTLS, as the sidecar's cluster sends it.
      expect(c.peer).toBe(`URI:${HTTPBIN_ID}`);
      // The check carries the original Host (Envoy copies :authority), not the cluster's address.
      expect(c.host).toBe(new URL(base).host);
      // The provider's async client has no route, so no attempt count.
      expect(c.attemptCount).toBeUndefined();
    }
    // The check is not traffic of the workload's listeners: no reporter="source" series.
    const exposition = await mesh.metrics!.metrics();
    expect(exposition).not.toMatch(/istio_requests_total\{reporter="source"/);
  });

  it('sends the body of a GET with includeRequestBodyInCheck, as Envoy buffers it', async () => {
    const query = '{"query":"a GET with a body, as search APIs send"}';
    const mesh = await httpbinMesh('ext-authz-http-body');
    const base = new URL(await fastifyApp(mesh));
    const before = httpChecks.length;
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const req = httpRequest(
        {
          host: base.hostname,
          port: base.port,
          method: 'GET',
          path: '/headers',
          // node frames a GET body only with an explicit length.
          headers: {
            'x-ext-authz': 'allow',
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(query),
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode));
        },
      );
      req.on('error', reject);
      req.end(query);
    });
    expect(status).toBe(200);
    expect(httpChecks.slice(before)).toMatchObject([{ method: 'GET', body: query, partial: 'false' }]);
  });

  it('fails closed when the provider presents another identity than its endpoint service account', async () => {
    // ext-authz-http's endpoint is a server whose certificate says sa/impostor.
    const mesh = await httpbinMesh('ext-authz-http', portOf(impostor));
    const base = await fastifyApp(mesh);
    const before = httpChecks.length;
    const res = await fetch(`${base}/headers`, { headers: { 'x-ext-authz': 'allow' } });
    // statusOnError's default: the check failed, and a failed check is never an allow.
    expect(res.status).toBe(403);
    expect(httpChecks.length).toBe(before);
    // Why, as the engine reports it: the cluster's TLS refused the server (Envoy's local reply).
    const d = await mesh.inbound.decide(decideRequest);
    expect(d.allow).toBe(false);
    expect(!d.allow && d.reason.detail).toMatch(
      /503 UF via outbound\|8000\|\|ext-authz-http\.foo\.svc\.cluster\.local: .*TLS error/,
    );
  });

  it("answers statusOnError when the provider's cluster does not answer within its timeout", async () => {
    const mesh = await httpbinMesh('ext-authz-http-slow', portOf(silent));
    const base = await fastifyApp(mesh);
    const started = Date.now();
    const res = await fetch(`${base}/headers`, { headers: { 'x-ext-authz': 'allow' } });
    expect(res.status).toBe(503);
    expect(Date.now() - started).toBeLessThan(5_000);
    const d = await mesh.inbound.decide(decideRequest);
    expect(!d.allow && d.reason.detail).toBe(
      'ext_authz provider ext-authz-http-slow failed: timed out after 300ms',
    );
  });

  it('sends gRPC checks over mTLS to the provider cluster, with the namespace/host service form (Express)', async () => {
    const mesh = await httpbinMesh('ext-authz-grpc');
    const base = await expressApp(mesh);
    const before = grpcAuthz.peers.length;

    const allowed = await fetch(`${base}/headers`, { headers: { 'x-ext-authz': 'allow' } });
    expect(allowed.status).toBe(200);
    const seen = ((await allowed.json()) as { headers: Record<string, string> }).headers;
    expect(seen['x-ext-authz-check-result']).toBe('allowed');
    const denied = await fetch(`${base}/headers`, { headers: { 'x-ext-authz': 'deny' } });
    expect(denied.status).toBe(403);
    expect(await denied.text()).toBe(DENY_BODY);

    expect(grpcAuthz.peers.slice(before)).toEqual([`URI:${HTTPBIN_ID}`, `URI:${HTTPBIN_ID}`]);
    // EnvoyGrpc's :authority is the service host name, whatever endpoint the cluster picked.
    expect(grpcAuthz.authorities.slice(before)).toEqual([
      'ext-authz-grpc.foo.svc.cluster.local',
      'ext-authz-grpc.foo.svc.cluster.local',
    ]);
  });

  it('applies a DestinationRule that turns TLS off for the provider: a STRICT provider then refuses the check', async () => {
    const mesh = await httpbinMesh(
      'ext-authz-http',
      portOf(httpAuthz),
      `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: ext-authz-plaintext, namespace: foo }
spec:
  host: ext-authz-http.foo.svc.cluster.local
  trafficPolicy: { tls: { mode: DISABLE } }
`,
    );
    const base = await fastifyApp(mesh);
    const before = httpChecks.length;
    const res = await fetch(`${base}/headers`, { headers: { 'x-ext-authz': 'allow' } });
    expect(res.status).toBe(403);
    expect(httpChecks.length).toBe(before);
  });
});
