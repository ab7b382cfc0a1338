import type { Attributes, Span } from '@opentelemetry/api';
import { NO_FORMATTER_TAGS, setFormatterTags, type FormatterTags } from './formatter-tags.js';
import { egressOperation, setEnvoyResponseTags } from './envoy-tags.js';
import { setHttpStatus } from './http-semconv.js';
import type { AttemptInfo, ClientSpan, ClientSpanResult } from './mesh-tracing.js';
import type { OutgoingHeaders } from './propagation.js';

/** Envoy's route decorator header (envoy source/common/http/headers.h EnvoyDecoratorOperation). */
export const DECORATOR_OPERATION_HEADER = 'x-envoy-decorator-operation';

const flagsOf = (f: readonly string[] | undefined): string =>
  f === undefined || f.length === 0 ? '-' : f.join(',');

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
