import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import {
  Agent as HttpsAgent,
  request as httpsRequest,
  type RequestOptions as HttpsRequestOptions,
} from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { ConnectionOptions, PeerCertificate } from 'node:tls';
import { afterEach } from 'vitest';
import { compilePlan } from '../../../src/compile/compile-plan.js';
import type { MeshPlan } from '../../../src/compile/plan-types.js';
import { loadConfigText } from '../../../src/config/load.js';
import type { MeshConfig } from '../../../src/config/mesh-config.js';
import { checkCertificates, staticCertSource } from '../../../src/identity/cert-source.js';
import type { CertSource } from '../../../src/identity/types.js';
import {
  createMeshServer,
  type ConnectionRefusal,
  type MeshServer,
  type MeshServerOptions,
} from '../../../src/inbound/server/mesh-server.js';
import { SAMPLES } from '../../helpers/tmp.js';
import { sharedCa, workloadCert } from '../../identity/support.js';

export function sampleText(rel: string): string {
  return readFileSync(path.join(SAMPLES, rel), 'utf8');
}

export interface Workload {
  readonly name: string;
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly labels: Readonly<Record<string, string>>;
}

export const httpbin = (namespace: string): Workload => ({
  name: 'httpbin-1',
  namespace,
  serviceAccount: 'httpbin',
  labels: { app: 'httpbin' },
});

/** A YAML document, optionally applied like `kubectl apply -n <namespace>`. */
export interface Doc {
  readonly text: string;
  readonly namespace?: string;
}

function withNamespace(doc: Doc): string {
  if (doc.namespace === undefined || /^\s+namespace:/m.test(doc.text)) return doc.text;
  return doc.text.replace(/^metadata:[ \t]*\n/m, `metadata:\n  namespace: ${doc.namespace}\n`);
}

/** The plan a workload gets from Istio YAML, failing the test on any configuration error. */
export function planFor(
  workload: Workload,
  docs: readonly Doc[] = [],
  meshConfig: Partial<MeshConfig> = {},
): MeshPlan {
  const snapshot = loadConfigText(
    docs.map((d, i) => ({ text: withNamespace(d), file: `doc-${i}.yaml` })),
    { meshConfig },
  );
  const errors = snapshot.diagnostics.filter((d) => d.level === 'Error');
  if (errors.length > 0) throw new Error(errors.map((d) => d.message).join('\n'));
  return compilePlan(snapshot, workload);
}

const issued = new Map<string, ReturnType<typeof workloadCert>>();

/** One certificate per identity for the whole file: RSA key generation dominates test time. */
function cachedCert(namespace: string, serviceAccount: string, trustDomain = 'cluster.local') {
  const key = `${trustDomain}/${namespace}/${serviceAccount}`;
  const known = issued.get(key);
  if (known !== undefined) return known;
  const made = workloadCert(namespace, serviceAccount, { trustDomain });
  issued.set(key, made);
  return made;
}

/** Workload certificates from the shared test CA, as a CertSource. */
export async function certSourceFor(namespace: string, serviceAccount: string): Promise<CertSource> {
  return staticCertSource(checkCertificates(await cachedCert(namespace, serviceAccount)));
}

/** A client's TLS material: a workload certificate, the mesh root, or nothing. */
export interface ClientTls {
  readonly key?: string;
  readonly cert?: string;
  readonly ca: string;
}

export async function meshClient(
  namespace: string,
  serviceAccount: string,
  trustDomain?: string,
): Promise<ClientTls> {
  const c = await cachedCert(namespace, serviceAccount, trustDomain);
  return { key: c.keyPem, cert: c.certChainPem, ca: c.rootCertPem };
}

export async function certlessClient(): Promise<ClientTls> {
  return { ca: (await sharedCa()).rootCertPem };
}

/** What the echo handler saw. */
export interface Echo {
  readonly peer: unknown;
  readonly xfcc: string | null;
  readonly rawXfcc: readonly string[];
  readonly url: string;
  readonly encrypted: boolean;
}

export interface Reply {
  readonly status: number;
  readonly body: Echo;
  /** The client's local port: equal across requests means the connection was reused. */
  readonly localPort: number;
  /** The server certificate's fingerprint, for TLS. */
  readonly serverFingerprint: string | null;
}

export interface Started {
  readonly server: MeshServer;
  readonly port: number;
  readonly refusals: ConnectionRefusal[];
}

const running: MeshServer[] = [];
afterEach(async () => {
  await Promise.all(
    running.splice(0).map(
      (s) =>
        new Promise<void>((resolve) => {
          s.closeAllConnections();
          s.close(() => resolve());
        }),
    ),
  );
});

/** A mesh server on 127.0.0.1 whose handler echoes the verified peer and the XFCC header it got. */
export async function startServer(
  options: Omit<MeshServerOptions, 'handler'> & { port?: number },
): Promise<Started> {
  const server = createMeshServer({
    ...options,
    handler: (req: IncomingMessage, res: ServerResponse) => {
      const rawXfcc: string[] = [];
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        if (req.rawHeaders[i]?.toLowerCase() === 'x-forwarded-client-cert')
          rawXfcc.push(req.rawHeaders[i + 1]!);
      }
      const echo: Echo = {
        peer: server.getPeer(req),
        xfcc: (req.headers['x-forwarded-client-cert'] as string | undefined) ?? null,
        rawXfcc,
        url: req.url ?? '',
        encrypted: 'encrypted' in req.socket,
      };
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(echo));
    },
  });
  running.push(server);
  const refusals: ConnectionRefusal[] = [];
  server.on('meshConnectionRefused', (r: ConnectionRefusal) => refusals.push(r));
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, refusals };
}

function collect(res: IncomingMessage, resolve: (r: Reply) => void, reject: (e: Error) => void): void {
  let text = '';
  // Read the socket now: a keep-alive agent takes it back before 'end'.
  const localPort = res.socket.localPort ?? 0;
  const tlsSocket = res.socket as { getPeerCertificate?: () => { fingerprint256?: string } };
  const serverFingerprint = tlsSocket.getPeerCertificate?.().fingerprint256 ?? null;
  res.setEncoding('utf8');
  res.on('data', (c: string) => (text += c));
  res.on('end', () => {
    try {
      resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Echo, localPort, serverFingerprint });
    } catch (err) {
      reject(err as Error);
    }
  });
}

export interface RequestOptions {
  readonly headers?: Readonly<Record<string, string>>;
  readonly path?: string;
  readonly agent?: HttpsAgent;
}

/** GET over plaintext HTTP; rejects on a connection error. */
export function plainGet(port: number, options: RequestOptions = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, path: options.path ?? '/', headers: options.headers, agent: false },
      (res) => collect(res, resolve, reject),
    );
    req.on('error', reject);
    req.end();
  });
}

/**
 * What Istio's (and meshlet's) clients offer over ISTIO_MUTUAL for HTTP/1.1 (istio
 * pilot/pkg/xds/filters/filters.go mtlsHTTP11ALPN): a PERMISSIVE port needs one of Istio's.
 */
export const ISTIO_CLIENT_ALPN: readonly string[] = Object.freeze(['istio-http/1.1', 'istio', 'http/1.1']);

/** The server is identified by its SPIFFE ID, as Istio clients do, not by DNS name. */
function spiffeServer(_host: string, cert: PeerCertificate): Error | undefined {
  return cert.subjectaltname?.includes('URI:spiffe://') === true
    ? undefined
    : new Error('server has no SPIFFE ID');
}

/**
 * A keep-alive agent of one connection for {@link tlsGet}, checking the server's SPIFFE ID
 * itself: since Node 24 an https agent does not keep a socket whose request brought its own
 * `checkServerIdentity` (lib/https.js kPerRequestCheckServerIdentity).
 */
export function keepAliveTlsAgent(): HttpsAgent {
  return new HttpsAgent({ keepAlive: true, maxSockets: 1, checkServerIdentity: spiffeServer });
}

/**
 * GET over TLS with the given client material, offering the ALPN of an Istio client unless
 * `alpn` says otherwise. The server is identified by its SPIFFE ID, as Istio clients do, not
 * by DNS name.
 */
export function tlsGet(
  port: number,
  client: ClientTls,
  options: RequestOptions & { readonly alpn?: readonly string[] } = {},
): Promise<Reply> {
  // https passes tls.connect options on to the connection; its type does not list ALPN.
  const request: HttpsRequestOptions & Pick<ConnectionOptions, 'ALPNProtocols'> = {
    host: '127.0.0.1',
    port,
    path: options.path ?? '/',
    headers: options.headers,
    ALPNProtocols: [...(options.alpn ?? ISTIO_CLIENT_ALPN)],
    ...client,
    agent: options.agent ?? false,
    // An agent from keepAliveTlsAgent checks it itself.
    ...(options.agent === undefined ? { checkServerIdentity: spiffeServer } : {}),
  };
  return new Promise((resolve, reject) => {
    const req = httpsRequest(request, (res) => collect(res, resolve, reject));
    req.on('error', reject);
    req.end();
  });
}

/** Resolves with the error when the request fails at the connection, rejects when it got an HTTP response. */
export async function connectionError(attempt: Promise<Reply>): Promise<NodeJS.ErrnoException> {
  try {
    const reply = await attempt;
    throw new Error(`expected a connection error, got HTTP ${reply.status}`);
  } catch (err) {
    if (err instanceof Error && err.message.startsWith('expected a connection error')) throw err;
    return err as NodeJS.ErrnoException;
  }
}
