import path from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { writeWorkloadCertificates } from '../../packages/core/src/identity/cert-files.js';
import { localPeerHeaders } from '../../packages/core/src/telemetry/metadata-exchange/peer-metadata.js';
import {
  createDevCa,
  issueWorkloadCertificate,
  type CertificateAuthority,
  type IssuedCertificate,
} from '../../packages/core/src/identity/dev-ca.js';
import { linesBeyond } from '../../packages/core/test/helpers/line-collector.js';
import { useTmpDir } from '../../packages/core/test/helpers/tmp.js';
import type { Closers } from '../support/httpbin-mesh.js';
import {
  ALL_SERVERS,
  exchange,
  histogramSum,
  MESH_SERVERS,
  observedHttpbin,
  plainExchange,
  requestsTotal,
  type ObservedHttpbin,
  type ServerKind,
} from '../support/observed-httpbin.js';

// A request Envoy's HTTP/1 codec cannot parse is answered by the codec's local reply (400,
// 431 past the header limit), with flag DPE and the codec's details, and the connection is
// closed (envoy http1 codec_impl.cc). The reply goes through the connection manager, which
// creates the stream's filter chain for it, so Istio's stats filter counts it and the access
// log writes its line, with no route, no upstream cluster and no peer metadata: the server
// sidecar's `destination_service` is then the bare canonical service (istio/proxy
// istio_stats.cc populatePeerInfo). Through the servers meshlet makes: `mesh.listen` and a
// Fastify `serverFactory`, plaintext and over mTLS.

const tmp = useTmpDir();
const closers: Closers = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

let ca: CertificateAuthority;
let sleepCert: IssuedCertificate;
beforeAll(async () => {
  ca = await createDevCa();
  sleepCert = await issueWorkloadCertificate({ ca, namespace: 'foo', serviceAccount: 'sleep', ttl: '1h' });
});

/** httpbin in foo, observed, as `kind` serves it; over mTLS with its workload certificate. */
async function serve(kind: ServerKind, options: { readonly mtls?: boolean } = {}): Promise<ObservedHttpbin> {
  let certs: string | undefined;
  if (options.mtls === true) {
    certs = path.join(await tmp(), 'httpbin');
    await writeWorkloadCertificates(
      certs,
      await issueWorkloadCertificate({ ca, namespace: 'foo', serviceAccount: 'httpbin', ttl: '1h' }),
    );
  }
  return observedHttpbin(kind, await tmp(), closers, certs === undefined ? {} : { certs });
}

const plain = plainExchange;
const SERVERS = MESH_SERVERS;

const overMtls = (port: number, bytes: string) =>
  exchange(
    tlsConnect({
      port,
      host: '127.0.0.1',
      key: sleepCert.keyPem,
      cert: sleepCert.certChainPem,
      ca: sleepCert.rootCertPem,
      ALPNProtocols: ['istio-http/1.1'],
      checkServerIdentity: () => undefined,
    }),
    bytes,
    'secureConnect',
  );

const CASES = [
  [
    'a header name with a space',
    'GET / HTTP/1.1\r\nHost: httpbin\r\nBad Header: v\r\n\r\n',
    400,
    'http1.codec_error',
  ],
  [
    'a control character in a header value',
    'GET / HTTP/1.1\r\nHost: httpbin\r\nX: a\x01b\r\n\r\n',
    400,
    'http1.invalid_characters',
  ],
  [
    'Content-Length beside Transfer-Encoding',
    'POST / HTTP/1.1\r\nHost: httpbin\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n',
    400,
    'http1.content_length_and_chunked_not_allowed',
  ],
  ['a request line that is not HTTP', 'NOT A REQUEST\r\n\r\n', 400, 'http1.codec_error'],
  [
    'a header block past the limit',
    `GET / HTTP/1.1\r\nHost: httpbin\r\nx-big: ${'a'.repeat(70_000)}\r\n\r\n`,
    431,
    'http1.headers_too_large',
  ],
] as const;

describe.each(SERVERS)('a request the codec refuses, %s', (kind) => {
  it.each(CASES)(
    '%s: the codec’s reply, closed, counted and logged as Envoy does',
    async (_, bytes, status, details) => {
      const s = await serve(kind);
      const before = s.handled();
      const text = await plain(s.port, bytes);
      const body = status === 431 ? 'Request Header Fields Too Large' : 'Bad Request';
      expect(text.split('\r\n')[0]).toBe(`HTTP/1.1 ${status} ${body}`);
      expect(text.endsWith(`\r\n\r\n${body}`)).toBe(true);
      expect(text).toContain('\r\nserver: istio-envoy\r\n');
      expect(s.handled()).toBe(before);

      await linesBeyond(s.log, 0);
      const line = JSON.parse(s.log[0]!) as Record<string, unknown>;
      expect(line).toMatchObject({
        response_code: status,
        response_flags: 'DPE',
        response_code_details: details,
        method: null,
        path: null,
        protocol: 'HTTP/1.1',
        upstream_cluster: null,
        upstream_host: null,
        route_name: null,
        bytes_received: 0,
        bytes_sent: body.length,
      });
      expect(line['downstream_local_address']).toBe(`127.0.0.1:${s.port}`);

      const rows = await requestsTotal(s.registry);
      expect(rows).toHaveLength(1);
      expect(rows[0]!.value).toBe(1);
      expect(rows[0]!.labels).toMatchObject({
        reporter: 'destination',
        response_code: String(status),
        response_flags: 'DPE',
        request_protocol: 'http',
        source_workload: 'unknown',
        source_principal: 'unknown',
        destination_workload: 'httpbin',
        destination_workload_namespace: 'foo',
        destination_service: 'httpbin',
        destination_service_name: 'httpbin',
        destination_service_namespace: 'foo',
        connection_security_policy: 'none',
      });
      // The wire bytes: what the server read of the request, and the whole reply.
      expect(await histogramSum(s.registry, 'istio_request_bytes')).toBe(Buffer.byteLength(bytes, 'latin1'));
      expect(await histogramSum(s.registry, 'istio_response_bytes')).toBe(Buffer.byteLength(text, 'latin1'));
    },
  );

  it('over mTLS: the peer’s principal and mutual_tls, as the connection says', async () => {
    const s = await serve(kind, { mtls: true });
    const text = await overMtls(s.port, 'GET / HTTP/1.1\r\nHost: httpbin\r\nBad Header: v\r\n\r\n');
    expect(text.split('\r\n')[0]).toBe('HTTP/1.1 400 Bad Request');
    await expect.poll(async () => (await requestsTotal(s.registry)).length).toBe(1);
    expect((await requestsTotal(s.registry))[0]!.labels).toMatchObject({
      response_code: '400',
      response_flags: 'DPE',
      source_principal: 'spiffe://cluster.local/ns/foo/sa/sleep',
      source_workload_namespace: 'foo',
      destination_principal: 'spiffe://cluster.local/ns/foo/sa/httpbin',
      connection_security_policy: 'mutual_tls',
    });
  });

  it('serves the next connection as usual', async () => {
    const s = await serve(kind);
    await plain(s.port, 'NOT A REQUEST\r\n\r\n');
    const ok = await plain(s.port, 'GET / HTTP/1.1\r\nHost: httpbin\r\nConnection: close\r\n\r\n');
    expect(ok.split('\r\n')[0]).toBe('HTTP/1.1 200 OK');
    await expect.poll(async () => (await requestsTotal(s.registry)).length).toBe(2);
  });
});

// Envoy's codec counts the headers as it parses them and refuses the 101st (max_headers_count)
// before the connection manager has them: the same report as any codec refusal. node parses
// up to 2,000, so the engine refuses these, whichever server node's parser runs in.
describe.each(ALL_SERVERS)('more than 100 headers, %s', (kind) => {
  it('is reported as the codec’s refusal: no route, no peer labels, no span, no decorator header', async () => {
    const s = await serve(kind);
    // A caller's metadata exchange, which the peer_metadata filter never reads here.
    const mx = localPeerHeaders(
      { name: 'sleep-1', namespace: 'foo', serviceAccount: 'sleep', labels: { app: 'sleep' } },
      'Kubernetes',
      'sidecar~10.0.0.1~sleep-1.foo~foo.svc.cluster.local',
    );
    const lines = [
      'Host: httpbin',
      `x-envoy-peer-metadata-id: ${mx.id}`,
      `x-envoy-peer-metadata: ${mx.value}`,
    ];
    for (let i = lines.length; i < 101; i++) lines.push(`X-H${i}: v`);
    const text = await plain(s.port, `GET / HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`);
    expect(text.split('\r\n')[0]).toBe('HTTP/1.1 431 Request Header Fields Too Large');
    expect(text.toLowerCase()).not.toContain('x-envoy-decorator-operation');
    // Nor did the exchange filter, which answers a caller's metadata with the server's.
    expect(text.toLowerCase()).not.toContain('x-envoy-peer-metadata');
    await linesBeyond(s.log, 0);
    expect(JSON.parse(s.log[0]!)).toMatchObject({
      response_code: 431,
      response_flags: 'DPE',
      response_code_details: 'http1.too_many_headers',
      method: null,
      path: null,
      upstream_cluster: null,
      route_name: null,
    });
    const rows = await requestsTotal(s.registry);
    expect(rows.map((r) => r.labels)).toMatchObject([
      {
        response_code: '431',
        response_flags: 'DPE',
        destination_service: 'httpbin',
        destination_service_name: 'httpbin',
        source_workload: 'unknown',
      },
    ]);
    expect(s.spans.getFinishedSpans()).toEqual([]);
  });
});

// Envoy's codec answers a transfer coding it does not implement with 501 before the connection
// manager (codec_impl.cc onHeadersCompleteImpl); node hands `gzip, chunked` on, and a lone
// `gzip` too before failing on its body, so the engine refuses them.
const chunkedPost = (te: string) =>
  `POST / HTTP/1.1\r\nHost: httpbin\r\nContent-Type: text/plain\r\nTransfer-Encoding: ${te}\r\nConnection: close\r\n\r\n2\r\nhi\r\n0\r\n\r\n`;

describe.each(ALL_SERVERS)('a transfer coding other than chunked, %s', (kind) => {
  it.each(['gzip', 'gzip, chunked'])('%s: 501, never handled, reported as the codec’s', async (te) => {
    const s = await serve(kind);
    const before = s.handled();
    const text = await plain(s.port, chunkedPost(te));
    expect(text.split('\r\n')[0]).toBe('HTTP/1.1 501 Not Implemented');
    expect(text.endsWith('\r\n\r\nNot Implemented')).toBe(true);
    expect(s.handled()).toBe(before);
    await linesBeyond(s.log, 0);
    expect(s.log.map((l) => JSON.parse(l) as unknown)).toMatchObject([
      { response_code: 501, response_flags: 'DPE', response_code_details: 'http1.invalid_transfer_encoding' },
    ]);
    expect((await requestsTotal(s.registry)).map((r) => [r.labels['response_code'], r.value])).toEqual([
      ['501', 1],
    ]);
  });

  it('takes chunked in any case', async () => {
    const s = await serve(kind);
    const text = await plain(s.port, chunkedPost('Chunked'));
    expect(text.split('\r\n')[0]).toBe('HTTP/1.1 200 OK');
    expect(text.endsWith('posted')).toBe(true);
  });
});

// A body the codec cannot parse (a bad chunk size) comes after the headers Envoy already
// decoded and routed: the codec's 400 local reply ends that stream (when its response has not
// started), reported with the route's labels, flag DPE and `http1.codec_error`, not as a
// client that went away.
describe.each(SERVERS)('a request whose body the codec refuses, %s', (kind) => {
  it('ends with the codec’s 400, reported on the routed request with DPE', async () => {
    const s = await serve(kind);
    const text = await plain(
      s.port,
      'POST / HTTP/1.1\r\nHost: httpbin\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhi\r\n',
    );
    expect(text.split('\r\n')[0]).toBe('HTTP/1.1 400 Bad Request');
    expect(text.endsWith('\r\n\r\nBad Request')).toBe(true);
    await linesBeyond(s.log, 0);
    expect(JSON.parse(s.log[0]!)).toMatchObject({
      method: 'POST',
      path: '/',
      response_code: 400,
      response_flags: 'DPE',
      response_code_details: 'http1.codec_error',
      bytes_sent: 'Bad Request'.length,
    });
    const rows = await requestsTotal(s.registry);
    expect(rows.map((r) => r.labels)).toMatchObject([
      {
        response_code: '400',
        response_flags: 'DPE',
        destination_service: 'httpbin.foo.svc.cluster.local',
      },
    ]);
    expect(await histogramSum(s.registry, 'istio_response_bytes')).toBe(Buffer.byteLength(text, 'latin1'));
  });
});

// Envoy's connection manager answers a request without a Host `400` (no body, connection
// closed, details `missing_host_header`) before routing it. node would answer it with a
// bare 400 of its own, unseen; the servers meshlet makes answer and report it as Envoy's.
describe.each(SERVERS)('a request without a Host, %s', (kind) => {
  it('is the connection manager’s 400, never handled, counted and logged unrouted', async () => {
    const s = await serve(kind);
    const text = await plain(s.port, 'GET / HTTP/1.1\r\nUser-Agent: no-host\r\n\r\n');
    expect(text.split('\r\n')[0]).toBe('HTTP/1.1 400 Bad Request');
    const head = text.toLowerCase();
    expect(head).toContain('\r\ncontent-length: 0\r\n');
    expect(head).toContain('\r\nserver: istio-envoy\r\n');
    expect(head).toContain('\r\nconnection: close\r\n');
    expect(text.endsWith('\r\n\r\n')).toBe(true);
    expect(s.handled()).toBe(0);
    await linesBeyond(s.log, 0);
    expect(JSON.parse(s.log[0]!)).toMatchObject({
      method: 'GET',
      path: '/',
      authority: null,
      user_agent: 'no-host',
      response_code: 400,
      response_flags: '-',
      response_code_details: 'missing_host_header',
      route_name: null,
    });
    expect((await requestsTotal(s.registry)).map((r) => r.labels)).toMatchObject([
      { response_code: '400', response_flags: '-', destination_service: 'httpbin' },
    ]);
  });

  it('takes an absolute-form target without one, whose URL names the authority', async () => {
    const s = await serve(kind);
    const text = await plain(s.port, 'GET http://httpbin/ HTTP/1.1\r\nConnection: close\r\n\r\n');
    expect(text.split('\r\n')[0]).toBe('HTTP/1.1 200 OK');
    expect(s.handled()).toBe(1);
  });
});
