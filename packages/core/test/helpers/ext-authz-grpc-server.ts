import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/** A CheckRequest as @grpc/proto-loader decodes it (proto field names, int64 as strings). */
export interface DecodedCheckRequest {
  readonly attributes: {
    readonly source?: DecodedPeer;
    readonly destination?: DecodedPeer;
    readonly request: {
      readonly time?: { readonly seconds: string; readonly nanos: number };
      readonly http: {
        readonly id: string;
        readonly method: string;
        readonly headers: Readonly<Record<string, string>>;
        readonly path: string;
        readonly host: string;
        readonly scheme: string;
        readonly size: string;
        readonly protocol: string;
        readonly body: string;
      };
    };
    readonly tls_session?: { readonly sni: string };
  };
}

export interface DecodedPeer {
  readonly address?: { readonly socket_address?: { readonly address: string; readonly port_value: number } };
  readonly principal: string;
}

interface HeaderOption {
  header: { key: string; value: string };
  append?: { value: boolean };
  append_action?:
    'APPEND_IF_EXISTS_OR_ADD' | 'ADD_IF_ABSENT' | 'OVERWRITE_IF_EXISTS_OR_ADD' | 'OVERWRITE_IF_EXISTS';
}

/** A CheckResponse in proto-loader's object form. */
export interface CheckResponseObject {
  status?: { code: number; message?: string };
  denied_response?: { status?: { code: number }; headers?: HeaderOption[]; body?: string };
  ok_response?: {
    headers?: HeaderOption[];
    headers_to_remove?: string[];
    response_headers_to_add?: HeaderOption[];
    query_parameters_to_set?: { key: string; value: string }[];
    query_parameters_to_remove?: string[];
  };
}

/** What the test server does with one Check: answer, fail with a gRPC status, or never answer. */
export type CheckHandler = (
  req: DecodedCheckRequest,
) => CheckResponseObject | { readonly grpcError: grpc.status } | 'hang';

const PROTO = path.resolve(import.meta.dirname, '../fixtures/ext-authz/external_auth.proto');

export interface ExtAuthzGrpcServer {
  readonly port: number;
  readonly seen: DecodedCheckRequest[];
  /** The `:authority` of each call. */
  readonly authorities: string[];
  /** The client certificate's SANs on each call (`URI:spiffe://...`), null on a plaintext or anonymous call. */
  readonly peers: (string | null)[];
  /** The `traceparent` metadata of each call, null when absent. */
  readonly traceparents: (string | null)[];
  close(): Promise<void>;
}

/**
 * A real gRPC ext_authz server on loopback (@grpc/grpc-js over HTTP/2), decoding with
 * @grpc/proto-loader from a .proto file, so what meshlet sends is checked by an encoder
 * that is not meshlet's.
 */
export async function startExtAuthzGrpcServer(
  handler: CheckHandler,
  credentials: grpc.ServerCredentials = grpc.ServerCredentials.createInsecure(),
): Promise<ExtAuthzGrpcServer> {
  const definition = protoLoader.loadSync(PROTO, {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
  });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as {
    envoy: { service: { auth: { v3: { Authorization: { service: grpc.ServiceDefinition } } } } };
  };
  const seen: DecodedCheckRequest[] = [];
  const authorities: string[] = [];
  const peers: (string | null)[] = [];
  const traceparents: (string | null)[] = [];
  const hanging: grpc.sendUnaryData<CheckResponseObject>[] = [];
  const server = new grpc.Server();
  server.addService(pkg.envoy.service.auth.v3.Authorization.service, {
    Check: (
      call: grpc.ServerUnaryCall<DecodedCheckRequest, CheckResponseObject>,
      callback: grpc.sendUnaryData<CheckResponseObject>,
    ) => {
      seen.push(call.request);
      authorities.push(call.getHost());
      peers.push(call.getAuthContext().sslPeerCertificate?.subjectaltname ?? null);
      const tp = call.metadata.get('traceparent')[0];
      traceparents.push(typeof tp === 'string' ? tp : null);
      const answer = handler(call.request);
      if (answer === 'hang') {
        hanging.push(callback);
        return;
      }
      if ('grpcError' in answer) {
        callback({ code: answer.grpcError, details: 'test server error' });
        return;
      }
      callback(null, answer);
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', credentials, (err, p) => (err === null ? resolve(p) : reject(err))),
  );
  return {
    port,
    seen,
    authorities,
    peers,
    traceparents,
    close: () =>
      new Promise<void>((resolve) => {
        for (const cb of hanging.splice(0)) cb({ code: grpc.status.UNAVAILABLE, details: 'closing' });
        server.tryShutdown(() => resolve());
      }),
  };
}

/** The body Istio's sample ext-authz server (samples/extauthz) denies with, over HTTP and gRPC. */
export const ISTIO_SAMPLE_DENY_BODY =
  'denied by ext_authz for not found header `x-ext-authz: allow` in the request';

/**
 * The Services of the istio.io authz-custom task's sample ext-authz server in namespace foo:
 * `ext-authz-http` on 8000 and `ext-authz-grpc` on 9000, each followed by `---`.
 */
export const ISTIO_SAMPLE_EXT_AUTHZ_SERVICES = `apiVersion: v1
kind: Service
metadata: { name: ext-authz-http, namespace: foo }
spec: { selector: { app: ext-authz }, ports: [{ name: http, port: 8000 }] }
---
apiVersion: v1
kind: Service
metadata: { name: ext-authz-grpc, namespace: foo }
spec: { selector: { app: ext-authz }, ports: [{ name: grpc, port: 9000 }] }
---
`;

/** The istio.io authz-custom task's CUSTOM policy on httpbin's `/headers`, naming `provider`. */
export const istioSampleCustomPolicy = (provider: string): string => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ext-authz, namespace: foo }
spec:
  selector: { matchLabels: { app: httpbin } }
  action: CUSTOM
  provider: { name: ${provider} }
  rules:
  - to: [{ operation: { paths: ["/headers"] } }]
`;

/**
 * Istio's sample ext-authz server (samples/extauthz, gRPC v3): allows a request whose
 * `x-ext-authz` header is `allow`, adding `x-ext-authz-check-result: allowed`; denies
 * anything else with 403, the same header set to `denied`, and its body text.
 */
export const istioSampleCheck: CheckHandler = (req) => {
  const headers = req.attributes.request.http.headers;
  const result = (value: string): HeaderOption => ({ header: { key: 'x-ext-authz-check-result', value } });
  if (headers['x-ext-authz'] === 'allow')
    return { status: { code: 0 }, ok_response: { headers: [result('allowed')] } };
  return {
    status: { code: grpc.status.PERMISSION_DENIED },
    denied_response: {
      status: { code: 403 },
      headers: [result('denied')],
      body: ISTIO_SAMPLE_DENY_BODY,
    },
  };
};
