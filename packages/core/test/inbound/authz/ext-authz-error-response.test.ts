import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { afterEach, describe, expect, it } from 'vitest';
import type { ExtensionProvider } from '../../../src/config/mesh-config.js';
import { checkExtAuthzGrpc, ExtAuthzGrpcClients } from '../../../src/inbound/authz/ext-authz-grpc.js';
import type { ExtAuthzGrpcProvider } from '../../../src/inbound/authz/ext-authz-provider.js';
import type { ExtAuthzSpanResult } from '../../../src/inbound/authz/ext-authz-span.js';
import { systemClock } from '../../../src/runtime/clock.js';
import type { InboundEngine } from '../../../src/inbound/engine-types.js';
import { engineFor, planOf, request, sample, verdict } from '../engine/support.js';

/**
 * Envoy's gRPC ext_authz client (source/extensions/filters/common/ext_authz/ext_authz_grpc_impl.cc
 * onSuccess): status OK allows whatever else is set; otherwise an `error_response`
 * (CheckResponse field 5, api/envoy/service/auth/v3/external_auth.proto) is an *error*, not a
 * denial: `failure_mode_allow` (Istio `failOpen`) allows it, else the local reply takes the
 * error_response's status (its HTTP status when set, else `status_on_error`, Istio
 * `statusOnError`, default 403), headers and body.
 */

const PROTO = path.resolve(import.meta.dirname, '../../fixtures/ext-authz/external_auth.proto');
const CUSTOM = sample('authz/http/custom-simple-http-in.yaml');

type Answer = Record<string, unknown>;

interface Server {
  readonly port: number;
  close(): Promise<void>;
}

const servers: Server[] = [];
const engines: InboundEngine[] = [];
afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** A real gRPC Authorization server on loopback, encoding with @grpc/proto-loader. */
async function serve(answer: () => Answer): Promise<Server> {
  const definition = protoLoader.loadSync(PROTO, { keepCase: true, longs: String, enums: String });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as {
    envoy: { service: { auth: { v3: { Authorization: { service: grpc.ServiceDefinition } } } } };
  };
  const server = new grpc.Server();
  server.addService(pkg.envoy.service.auth.v3.Authorization.service, {
    Check: (_call: unknown, callback: grpc.sendUnaryData<Answer>) => callback(null, answer()),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
      err === null ? resolve(p) : reject(err),
    ),
  );
  const s = { port, close: () => new Promise<void>((r) => server.tryShutdown(() => r())) };
  servers.push(s);
  return s;
}

function engine(port: number, extra: Record<string, unknown> = {}): InboundEngine {
  const provider: ExtensionProvider = {
    name: 'default',
    type: 'envoyExtAuthzGrpc',
    config: { service: 'foo/127.0.0.1', port: String(port), ...extra },
  };
  const e = engineFor(planOf(CUSTOM, { meshConfig: { extensionProviders: [provider] } }));
  engines.push(e);
  return e;
}

const UNAVAILABLE = { code: grpc.status.UNAVAILABLE, message: 'policy store down' };

describe('CUSTOM gRPC provider: CheckResponse.error_response', () => {
  it("answers with the error_response's status, headers and body, as an ext_authz error", async () => {
    const s = await serve(() => ({
      status: UNAVAILABLE,
      error_response: {
        status: { code: 503 },
        headers: [{ header: { key: 'retry-after', value: '30' } }],
        body: 'authorization backend unavailable',
      },
    }));
    const d = await engine(s.port).decide(request({ url: '/httpbin1' }));
    expect(d.allow ? null : [d.status, d.body, d.headers['retry-after'], d.flags]).toEqual([
      503,
      'authorization backend unavailable',
      '30',
      ['UAEX'],
    ]);
    expect(d.allow ? null : d.reason.detail).toMatch(/error/);
  });

  it('uses statusOnError (default 403) when the error_response sets no status', async () => {
    const s = await serve(() => ({ status: UNAVAILABLE, error_response: { body: 'oops' } }));
    const d = await engine(s.port, { statusOnError: '500' }).decide(request({ url: '/httpbin1' }));
    expect(d.allow ? null : [d.status, d.body]).toEqual([500, 'oops']);
    const dflt = await engine(s.port).decide(request({ url: '/httpbin1' }));
    expect(dflt.allow ? null : [dflt.status, dflt.body]).toEqual([403, 'oops']);
  });

  it('allows with failOpen: an error_response is a failure of the check, not a denial', async () => {
    const s = await serve(() => ({
      status: UNAVAILABLE,
      error_response: { status: { code: 503 }, body: 'down' },
    }));
    expect(verdict(await engine(s.port, { failOpen: true }).decide(request({ url: '/httpbin1' })))).toBe(
      'allow',
    );
  });

  it('still denies a denied_response with failOpen (a denial is no failure)', async () => {
    const s = await serve(() => ({
      status: { code: grpc.status.PERMISSION_DENIED },
      denied_response: { status: { code: 401 }, body: 'no' },
    }));
    const d = await engine(s.port, { failOpen: true }).decide(request({ url: '/httpbin1' }));
    expect(d.allow ? null : [d.status, d.body]).toEqual([401, 'no']);
  });

  it('allows when the status is OK, whatever error_response says (the status decides first)', async () => {
    const s = await serve(() => ({ status: { code: 0 }, error_response: { status: { code: 503 } } }));
    expect(verdict(await engine(s.port).decide(request({ url: '/httpbin1' })))).toBe('allow');
  });

  it('tags the check span ext_authz_error, not ext_authz_unauthorized', async () => {
    const s = await serve(() => ({ status: UNAVAILABLE, error_response: { body: 'x' } }));
    const p: ExtAuthzGrpcProvider = {
      kind: 'grpc',
      name: 'default',
      host: '127.0.0.1',
      port: s.port,
      target: `127.0.0.1:${s.port}`,
      authority: '127.0.0.1',
      timeoutMs: 5000,
      failOpen: false,
      statusOnError: 403,
      body: null,
    };
    const ended: ExtAuthzSpanResult[] = [];
    const clients = new ExtAuthzGrpcClients();
    try {
      const r = await checkExtAuthzGrpc(p, request({ url: '/httpbin1' }), '/httpbin1', null, {
        clients,
        upstream: null,
        clock: systemClock,
        localPrincipal: '',
        tracer: () => ({ headers: {}, end: (result) => ended.push(result) }),
      });
      expect(r).toMatchObject({ kind: 'deny', status: 403, body: 'x', failed: true });
      expect(ended.map((e) => e.tags['ext_authz_status'])).toEqual(['ext_authz_error']);
    } finally {
      clients.close();
    }
  });
});
