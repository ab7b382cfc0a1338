import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { useCleanup } from '../helpers/cleanup.js';
import { useTmpDir } from '../helpers/tmp.js';
import { meshApp } from './mesh-app.js';
import { samples } from './metrics-support.js';

// istio_stats.cc (istio/proxy, IstioStatsFilter::log) labels a request gRPC when Envoy's
// Grpc::Common::isGrpcRequestHeaders says so: content-type exactly `application/grpc` or
// `application/grpc+…` (source/common/grpc/common.cc hasGrpcContentType; gRPC-Web is not).
// Its grpc_response_status is Grpc::Common::getGrpcStatus: the trailers' grpc-status, else
// the headers', else the HTTP status mapped (source/common/grpc/status.cc httpToGrpcStatus),
// a value that is not a known code reading -1 (InvalidCode); every other request reads "".
// Over HTTP/1.1 Envoy's codec drops trailers (Http1ProtocolOptions.enable_trailers, which
// istiod never sets), so a trailer never reaches the filter.

const tmp = useTmpDir();
const cleanup = useCleanup();

const WORKLOAD = {
  name: 'reviews-v2',
  namespace: 'default',
  serviceAccount: 'bookinfo-reviews',
  labels: { app: 'reviews', version: 'v2' },
};

const GRPC = 'application/grpc';
const FRAME = Buffer.from([0, 0, 0, 0, 0]);

/** The application: `/status/<v>` answers 200 with grpc-status v, `/http/<code>` that HTTP status. */
function answer(url: string, res: ServerResponse): void {
  const [, kind, value] = url.split('/');
  if (kind === 'status') {
    res.writeHead(200, { 'content-type': GRPC, 'grpc-status': value! }).end(FRAME);
  } else if (kind === 'http') {
    res.statusCode = Number(value);
    res.setHeader('content-type', GRPC);
    res.end();
  } else if (kind === 'trailer') {
    // Chunked, so node sends the trailer.
    res.writeHead(200, { 'content-type': GRPC, trailer: 'grpc-status' });
    res.write(FRAME);
    res.addTrailers({ 'grpc-status': value! });
    res.end();
  } else {
    res.writeHead(200, { 'content-type': GRPC }).end(FRAME);
  }
}

describe('grpc_response_status', () => {
  it('is the response grpc-status, else the HTTP status mapped, on both reporters; empty for non-gRPC requests', async () => {
    const app = await meshApp(cleanup, await tmp(), {
      workload: WORKLOAD,
      yaml: 'apiVersion: v1\nkind: Namespace\nmetadata: { name: default }\n',
      handler: (req, res) => answer(req.url ?? '/', res),
    });
    const calls: [string, string][] = [
      ['/status/0', GRPC],
      ['/status/5', 'application/grpc+proto'],
      ['/http/429', GRPC],
      ['/http/404', GRPC],
      ['/none', GRPC],
      ['/trailer/7', GRPC],
      ['/status/abc', GRPC],
      ['/status/17', GRPC],
      // Not gRPC to Envoy: a grpc-status in the answer is not read.
      ['/status/5', 'application/json'],
      ['/status/5', 'application/grpc-web+proto'],
      ['/status/5', 'application/grpc; charset=utf-8'],
    ];
    for (const [path, contentType] of calls) {
      const res = await app.mesh.fetch(`http://127.0.0.1:${app.port}${path}`, {
        method: 'POST',
        headers: { 'content-type': contentType },
        body: FRAME,
      });
      await res.arrayBuffer();
    }
    // The server reports once its response is done, after the client has read it.
    let rows: Awaited<ReturnType<typeof samples>> = [];
    await expect
      .poll(async () => {
        rows = await samples(app.mesh.metrics!, 'istio_requests_total');
        return rows.filter((r) => r.labels['reporter'] === 'destination').reduce((n, r) => n + r.value, 0);
      })
      .toBe(calls.length);
    const seen = (reporter: string) =>
      rows
        .filter((r) => r.labels['reporter'] === reporter)
        .map((r) => [
          r.labels['request_protocol'],
          r.labels['response_code'],
          r.labels['grpc_response_status'],
          r.value,
        ])
        .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    const want = [
      ['grpc', '200', '-1', 2],
      ['grpc', '200', '0', 1],
      // No grpc-status: 200 maps to UNKNOWN; the trailer's 7 never counts over HTTP/1.1.
      ['grpc', '200', '2', 2],
      ['grpc', '200', '5', 1],
      ['grpc', '404', '12', 1],
      ['grpc', '429', '14', 1],
      ['http', '200', '', 3],
    ];
    expect(seen('destination')).toEqual(want);
    expect(seen('source')).toEqual(want);
  });
});
