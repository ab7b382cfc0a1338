// The CLIENT span of one outbound call once started (`client-span-start.ts`): its types, and
// the handle that takes the route's operation, each attempt, and the tags set when the call is done.
import type { Attributes, Span } from '@opentelemetry/api';
import type { AccessLogEntry } from '../access-log/entry.js';
import { NO_FORMATTER_TAGS, setFormatterTags, type FormatterTags } from './formatter-tags.js';
import { egressOperation, flagsOf, setEnvoyResponseTags } from './envoy-tags.js';
import { setHttpStatus } from './http-semconv.js';
import type { OutgoingHeaders } from './propagation.js';

/** One try of an outbound call, recorded as a span event. */
export interface AttemptInfo {
  /** 1-based. */
  readonly attempt: number;
  readonly upstreamAddress?: string | null;
  readonly status?: number;
  readonly flags?: readonly string[];
  readonly durationMs?: number;
  readonly error?: string | null;
}

export interface ClientSpanResult {
  readonly status: number;
  readonly flags?: readonly string[];
  readonly attempts?: number;
  readonly upstreamAddress?: string | null;
  readonly upstreamCluster?: string | null;
  readonly responseBytes?: number;
  /** Why the call failed without a status (`UF`, `connect ECONNREFUSED`, ...): `error.type`. */
  readonly error?: string | null;
  /** The finished call as an access-log entry, for `formatter` custom tags (read only when recording). */
  readonly entry?: () => AccessLogEntry;
  /** Tags of the caller's own (ext_authz: `ext_authz_status`, `grpc.status_code`). */
  readonly attributes?: Readonly<Record<string, string | number>>;
  /**
   * The matched route's operation (Istio's decorator, `reviews.default.svc.cluster.local:9080/reviews*`),
   * the span name. Without it the name is the default route's `<host>:<port>/*` of
   * `upstreamCluster`, else `egress <authority>`.
   */
  readonly operation?: string | null;
  /**
   * The upstream's non-empty `x-envoy-decorator-operation` answer, the span name over the
   * route's operation (envoy conn_manager_impl.cc encodeHeaders, egress), when the caller
   * took it off the response; else it is read from `entry`'s response headers.
   */
  readonly answeredOperation?: string | null;
}

export interface ClientSpan {
  readonly span: Span | null;
  readonly requestId: string | null;
  /**
   * Routing matched a route whose decorator is `operation`: when tracing is on for CLIENT
   * spans, it names the span and goes to the upstream in `x-envoy-decorator-operation`
   * (written into `headers`), as Envoy's egress connection manager does whether or not the
   * request is sampled (conn_manager_impl.cc traceRequest; the route decorator's
   * `propagate` defaults to true and istiod never sets it).
   */
  decorate(operation: string, headers: OutgoingHeaders): void;
  attempt(info: AttemptInfo): void;
  end(result: ClientSpanResult): void;
}

/** Envoy's route decorator header (envoy source/common/http/headers.h EnvoyDecoratorOperation). */
export const DECORATOR_OPERATION_HEADER = 'x-envoy-decorator-operation';

/**
 * One outbound call's CLIENT span. A class, not a closure bag: one is made per call,
 * and a call that is not sampled only pays for the object (every method returns at
 * once on a span that does not record).
 */
export class ClientSpanHandle implements ClientSpan {
  readonly span: Span | null;
  readonly requestId: string | null;
  readonly #formatterTags: FormatterTags;
  /**
   * When the span records and its name is Envoy's operation (set at the end, once routing
   * is known), the name for a route without decorator (`egress <authority>`); null when
   * the caller named the span.
   */
  readonly #undecorated: string | null;
  /** The matched route's decorator operation, once `decorate` was told it. */
  #operation: string | null = null;

  constructor(
    span: Span | null,
    requestId: string | null,
    formatterTags: FormatterTags = NO_FORMATTER_TAGS,
    undecorated: string | null = null,
  ) {
    this.span = span;
    this.requestId = requestId;
    this.#formatterTags = formatterTags;
    this.#undecorated = undecorated;
  }

  decorate(operation: string, headers: OutgoingHeaders): void {
    // No span: tracing is off for CLIENT spans, and Envoy's connection manager, with no
    // tracing configured, never runs traceRequest.
    if (this.span === null) return;
    this.#operation = operation;
    headers[DECORATOR_OPERATION_HEADER] = operation;
  }

  attempt(info: AttemptInfo): void {
    const span = this.span;
    if (span === null || !span.isRecording()) return;
    try {
      const a: Attributes = { 'meshlet.attempt': info.attempt };
      if (info.upstreamAddress != null) a['upstream_address'] = info.upstreamAddress;
      if (info.status !== undefined) a['http.response.status_code'] = info.status;
      a['response_flags'] = flagsOf(info.flags);
      if (info.durationMs !== undefined) a['meshlet.duration_ms'] = info.durationMs;
      if (info.error != null) a['error.type'] = info.error;
      span.addEvent('meshlet.attempt', a);
    } catch {
      // Telemetry never throws into the application.
    }
  }

  end(result: ClientSpanResult): void {
    const span = this.span;
    if (span === null) return;
    try {
      if (span.isRecording()) {
        span.setAttribute('response_flags', flagsOf(result.flags));
        if (result.attempts !== undefined && result.attempts > 1) {
          span.setAttribute('http.request.resend_count', result.attempts - 1);
          span.setAttribute('retry.count', result.attempts - 1);
        }
        if (result.upstreamAddress != null) {
          span.setAttribute('upstream_address', result.upstreamAddress);
          span.setAttribute('network.peer.address', result.upstreamAddress.replace(/:\d+$/, ''));
        }
        if (result.attributes !== undefined) span.setAttributes(result.attributes);
        const e = result.entry === undefined ? null : result.entry();
        if (this.#undecorated !== null) {
          // An Istio upstream names the operation in its response when the request did not
          // (envoy conn_manager_impl.cc encodeHeaders: egress takes a non-empty one).
          const answered = result.answeredOperation ?? e?.responseHeaders[DECORATOR_OPERATION_HEADER];
          span.updateName(
            typeof answered === 'string' && answered !== ''
              ? answered
              : (result.operation ??
                  this.#operation ??
                  egressOperation(result.upstreamCluster, this.#undecorated)),
          );
        }
        const grpcError = setEnvoyResponseTags(
          span,
          e,
          undefined,
          result.responseBytes,
          result.upstreamCluster,
        );
        const flagError =
          result.flags !== undefined && result.flags.length > 0 ? result.flags.join(',') : null;
        setHttpStatus(
          span,
          'client',
          result.status,
          result.error ?? (result.status === 0 ? flagError : null),
          grpcError,
        );
        if (e !== null) setFormatterTags(span, this.#formatterTags, () => e);
      }
      span.end();
    } catch {
      // Telemetry never throws into the application.
    }
  }
}
