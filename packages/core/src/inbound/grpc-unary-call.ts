import type { Client, ServiceError } from '@grpc/grpc-js';
import type { Clock } from '../runtime/clock.js';
import type { ClusterCaller, ClusterEndpoint } from '../outbound/cluster-call.js';
import { grpcOutcome } from '../outbound/upstream/grpc-outcome.js';
import type { AttemptOutcome } from '../outbound/upstream/types.js';
import { grpcJs } from '../runtime/grpc-js.js';
import type { ExtAuthzSpanResult, ExtAuthzTracer } from './authz/ext-authz-span.js';

const TIMED_OUT: AttemptOutcome = Object.freeze({ kind: 'local-failure', failure: 'timeout' });

/**
 * The span's end as Envoy's gRPC async client tags it: `grpc.status_code`, and the answer's
 * own tags; a failed call (an error status, a timeout) is an error span with neither.
 */
function spanResult<R>(
  err: ServiceError | null,
  res: R | undefined,
  timeout: string | null,
  tags: (res: R) => Readonly<Record<string, string>>,
): ExtAuthzSpanResult {
  if (err !== null || res === undefined)
    return {
      status: 0,
      tags: { 'grpc.status_code': String(err?.code ?? 2) },
      error: timeout ?? err?.details ?? 'no response',
    };
  return { status: 200, tags: { 'grpc.status_code': '0', ...tags(res) }, error: null };
}

/** One kind of unary call a filter makes to a gRPC service (ext_authz Check, ratelimit ShouldRateLimit). */
export interface GrpcUnary<R> {
  /** The service and port whose mesh cluster the call goes through (`upstream`). */
  readonly host: string;
  readonly port: number;
  /** `host:port` for the log of a span. */
  readonly target: string;
  /** The span's upstream cluster; default `outbound|<port>||<host>`. */
  readonly cluster?: string;
  /** null: no timeout. */
  readonly timeoutMs: number | null;
  /** `/package.Service/Method`. */
  readonly method: string;
  /** The span name, as Envoy's gRPC async client names it; null: no span. */
  readonly spanName: string | null;
  readonly decode: (b: Buffer) => R;
  /** The tags an answer adds to the span, beside `grpc.status_code`. */
  readonly spanTags: (res: R) => Readonly<Record<string, string>>;
  /** The channel to the endpoint the cluster picked (null: the service itself). */
  readonly client: (endpoint: ClusterEndpoint | null) => Client;
}

export interface GrpcUnaryDeps {
  /** The mesh's clusters; null: straight to the service (no endpoint pick, no outlier detection). */
  readonly upstream: ClusterCaller | null;
  readonly clock: Clock;
  readonly tracer: ExtAuthzTracer | null;
}

/**
 * One unary call: an endpoint of the service's cluster (outlier detection hears the outcome
 * as Envoy's router counts it: the gRPC status mapped to HTTP, the timeout as a local-origin
 * timeout), the timeout on the clock (it covers finding the endpoint too), the call's span;
 * `answer` reads the response, `failed` makes the result of a transport error, a gRPC error
 * status or a timeout. Never rejects.
 */
export function grpcUnaryCall<R, T>(
  u: GrpcUnary<R>,
  message: Buffer,
  deps: GrpcUnaryDeps,
  answer: (res: R) => T,
  failed: (why: string) => T,
): Promise<T> {
  const cluster = u.cluster ?? `outbound|${u.port}||${u.host}`;
  let span =
    u.spanName === null
      ? null
      : (deps.tracer?.({ name: u.spanName, method: 'POST', url: `http://${u.target}${u.method}`, cluster }) ??
        null);
  const timeout = `timed out after ${u.timeoutMs}ms`;
  return new Promise<T>((resolve) => {
    let settled = false;
    let timedOut = false;
    let call: { cancel(): void } | null = null;
    const finish = (r: T): void => {
      if (settled) return;
      settled = true;
      if (timer !== null) deps.clock.clearTimeout(timer);
      resolve(r);
    };
    const fail = (why: string): void => {
      span?.end({ status: 0, tags: {}, error: why });
      span = null;
      finish(failed(why));
    };
    const timer =
      u.timeoutMs === null
        ? null
        : deps.clock.setTimeout(() => {
            timedOut = true;
            if (call === null) fail(timeout);
            else call.cancel();
          }, u.timeoutMs);
    const start = (endpoint: ClusterEndpoint | null): void => {
      if (settled) {
        endpoint?.done(null);
        return;
      }
      let client: Client;
      try {
        client = u.client(endpoint);
      } catch (err) {
        endpoint?.done(null);
        fail(err instanceof Error ? err.message : String(err));
        return;
      }
      const metadata = new (grpcJs().Metadata)();
      if (span !== null) for (const [k, v] of Object.entries(span.headers)) metadata.set(k, v);
      call = client.makeUnaryRequest<Buffer, R>(
        u.method,
        (b) => b,
        (b) => u.decode(b),
        message,
        metadata,
        (err: ServiceError | null, res?: R) => {
          endpoint?.done(timedOut ? TIMED_OUT : grpcOutcome(err === null ? 0 : err.code));
          span?.end(spanResult(err, res, timedOut ? timeout : null, u.spanTags));
          span = null;
          if (err !== null || res === undefined) fail(timedOut ? timeout : (err?.details ?? 'no response'));
          else finish(answer(res));
        },
      );
    };
    if (deps.upstream === null) start(null);
    else
      deps.upstream.endpoint(u.host, u.port, null).then(start, (err: unknown) => {
        fail(err instanceof Error ? err.message : String(err));
      });
  });
}
