import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import path from 'node:path';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { createMesh, type Mesh } from '../../../packages/core/src/index.js';
import { seededRandom } from '../../../packages/core/src/runtime/random.js';
import { lineEcho } from '../../../packages/core/test/helpers/line-echo.js';
import { SAMPLES } from '../../../packages/core/test/helpers/tmp.js';

// Istio's tcp-echo samples (samples/tcp-echo) behind meshlet's ingress gateway, for the
// gateway TCP tests: real sockets on loopback, the upstream behaving as tcp-echo does.

export const sample = (rel: string): string => readFileSync(path.join(SAMPLES, rel), 'utf8');

export const INGRESS = {
  name: 'istio-ingressgateway',
  namespace: 'istio-system',
  serviceAccount: 'istio-ingressgateway-service-account',
  labels: { istio: 'ingressgateway' },
};
export const TCP_ECHO = 'tcp-echo.default.svc.cluster.local';

/** tcp-echo-all-v1.yaml split into its Gateway and DestinationRule, and its VirtualService. */
export const [GATEWAY_AND_DR, ALL_V1] = ((): [string, string] => {
  const all = sample('tcp-echo/tcp-echo-all-v1.yaml');
  const vs = all.indexOf('apiVersion: networking.istio.io/v1\nkind: VirtualService');
  return [all.slice(0, vs), all.slice(vs)];
})();

export type Cleanup = (() => Promise<void>)[];

/** tcp-echo: answers each line with `<prefix> <line>`, and ends when the client does. */
export async function tcpEcho(
  cleanup: Cleanup,
  prefix: string,
  tls?: { key: string; cert: string; ca: string },
): Promise<{ port: number; peers: string[]; alpn: (string | false | null)[] }> {
  const peers: string[] = [];
  const alpn: (string | false | null)[] = [];
  const serve = (socket: Socket): void => lineEcho(socket, prefix);
  const server: Server =
    tls === undefined
      ? createServer({ allowHalfOpen: true }, serve)
      : createTlsServer(
          {
            ...tls,
            requestCert: true,
            rejectUnauthorized: true,
            allowHalfOpen: true,
            // A peer that takes Istio's mTLS but not the TCP metadata exchange: it selects
            // `istio`, so the client sends no exchange frame (tcp-metadata-exchange.test.ts has
            // the exchange).
            ALPNProtocols: ['istio'],
          },
          (s: TLSSocket) => {
            const uri = s.getPeerCertificate().subjectaltname ?? '';
            peers.push(uri);
            alpn.push(s.alpnProtocol);
            serve(s);
          },
        );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanup.push(() => new Promise<void>((r) => server.close(() => r())));
  return { port: (server.address() as AddressInfo).port, peers, alpn };
}

/** The task's `echo hello | nc <gateway> <port>`: what came back before the gateway closed. */
export function nc(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    let got = '';
    s.on('data', (d: Buffer) => (got += d.toString()));
    s.on('close', () => resolve(got));
    s.on('error', reject);
    s.end(`${line}\n`);
  });
}

/** A mesh running as the ingress gateway over `files`, written into a fresh directory. */
export async function gatewayMesh(
  cleanup: Cleanup,
  tmp: () => Promise<string>,
  files: Record<string, string>,
  endpoints: object,
  extra: object = {},
): Promise<{ mesh: Mesh; dir: string }> {
  const dir = await tmp();
  await Promise.all(Object.entries(files).map(([f, text]) => writeFile(path.join(dir, f), text)));
  const mesh = await createMesh({
    config: dir,
    workload: INGRESS,
    endpoints: endpoints as never,
    random: seededRandom(3),
    ...extra,
  });
  cleanup.push(() => mesh.close());
  return { mesh, dir };
}
