import type { HeaderRecord } from './propagation.js';

/**
 * Envoy's trace decision from `x-request-id` (Telemetry `useRequestIdForTraceSampling`,
 * default true), for a request that starts a trace. Envoy's UUID request-id extension
 * (envoy source/extensions/request_id/uuid/config.cc) packs the trace reason into the
 * UUID's version position and reads the first 8 hex digits as an integer; the HTTP
 * connection manager (source/common/http/conn_manager_utility.cc
 * mutateTracingRequestHeader) samples when that integer % 10000 is below the random
 * sampling percentage in ten-thousandths, and marks the id. Every hop that sees the same
 * `x-request-id` at the same percentage so makes the same decision, and a hop after one
 * that sampled finds the mark.
 */

/** The UUID character that carries the trace reason (Envoy's TRACE_BYTE_POSITION). */
const TRACE_BYTE_POSITION = 14;
const UUID_LENGTH = 36;
/** Envoy's marks: sampled, forced by the service (x-envoy-force-trace), forced by the client. */
const TRACE_SAMPLED = 'b';
const TRACE_CLIENT = 'c';
/** Whether the id's trace-reason character is one of Envoy's marks (`a`, `b` or `c`). */
const traced = (requestId: string): boolean => {
  const c = requestId.charCodeAt(TRACE_BYTE_POSITION);
  return c >= 0x61 && c <= 0x63;
};

/**
 * Whether the request id says this request is traced: true when an earlier hop marked
 * it, else the random-sampling draw from its integer; null when the id gives no integer
 * (Envoy then leaves the decision to the tracer's own sampling).
 */
export function sampledByRequestId(requestId: string, percent: number): boolean | null {
  if (requestId.length < 8) return null;
  if (requestId.length === UUID_LENGTH && traced(requestId)) return true;
  // The first 8 hex digits as an integer (Envoy's toInteger: atoull base 16), read by hand
  // because this runs on every request that starts a trace.
  let value = 0;
  for (let i = 0; i < 8; i++) {
    const c = requestId.charCodeAt(i);
    const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
    if (d < 0) return null;
    value = value * 16 + d;
  }
  // FractionalPercent with denominator TEN_THOUSAND: featureEnabled(value % 10000 < numerator).
  return value % 10000 < Math.round(percent * 100);
}

/**
 * `sampledByRequestId` for a request that may carry no id: with none (generating it is
 * off), Envoy's connection manager leaves the request NotTraceable, so no new trace
 * starts (conn_manager_utility.cc mutateTracingRequestHeader: "Skip if request-id is
 * corrupted, or non-existent").
 */
export function idDecision(requestId: string | null, percent: number): boolean | null {
  return requestId === null ? false : sampledByRequestId(requestId, percent);
}

/** The id with Envoy's "sampled" mark (unchanged when it is not a UUID-length id). */
export function markSampled(requestId: string): string {
  return mark(requestId, TRACE_SAMPLED);
}

/** The id with Envoy's "forced by the client" mark (`x-client-trace-id`). */
export function markClientForced(requestId: string): string {
  return mark(requestId, TRACE_CLIENT);
}

function mark(requestId: string, reason: string): string {
  if (requestId.length !== UUID_LENGTH || traced(requestId)) return requestId;
  return requestId.slice(0, TRACE_BYTE_POSITION) + reason + requestId.slice(TRACE_BYTE_POSITION + 1);
}

/**
 * Whether the request forces its trace with `x-client-trace-id` (Envoy's ClientForced
 * reason; istiod sets client sampling to 100 %, pilot/pkg/networking/core/tracing.go).
 */
export function clientForced(value: string | readonly string[] | undefined): boolean {
  return value !== undefined && (typeof value === 'string' ? value !== '' : value.some((v) => v !== ''));
}

export const NO_ID_VERDICT = 0;
export const ID_UNSAMPLED = 1;
export const ID_SAMPLED = 2;
export const ID_CLIENT_FORCED = 3;

/**
 * Envoy's x-request-id sampling decision, in its order (conn_manager_utility.cc
 * mutateTracingRequestHeader): an id an earlier hop marked, then x-client-trace-id, then the
 * random draw on the id; no id at all (generating it is off) leaves the request
 * NotTraceable. A number, not an object: this runs on every request.
 */
export function requestIdVerdict(
  useRequestId: boolean,
  requestId: string | null,
  headers: HeaderRecord,
  pct: number,
): number {
  if (!useRequestId) return NO_ID_VERDICT;
  if (
    requestId !== null &&
    clientForced(headers['x-client-trace-id']) &&
    sampledByRequestId(requestId, 0) !== true
  )
    return ID_CLIENT_FORCED;
  const byId = idDecision(requestId, pct);
  return byId === null ? NO_ID_VERDICT : byId ? ID_SAMPLED : ID_UNSAMPLED;
}
