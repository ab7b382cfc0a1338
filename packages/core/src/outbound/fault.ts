import type { Fault } from '../compile/plan-types.js';
import type { Random } from '../runtime/random.js';
import { localReply, LOCAL_BODY, type LocalReply } from './local-reply.js';
import { GRPC_STATUS_CODES } from '../config/schema/virtual-service-grpc-status.js';

/** One percentage draw; 0 never fires and 100 always does, without consuming randomness. */
export function fires(percent: number, random: Random): boolean {
  if (percent <= 0) return false;
  if (percent >= 100) return true;
  return random.next() * 100 < percent;
}

/** The fault decisions for one request: delay (ms) and abort, drawn independently. */
export interface FaultDecision {
  readonly delayMs: number;
  readonly abort: LocalReply | null;
}

const NONE: FaultDecision = Object.freeze({ delayMs: 0, abort: null });

/**
 * `HTTPRoute.fault` as Envoy's fault filter decides it (fault_filter.cc): the delay
 * and the abort are separate draws; the abort takes effect after the delay. An HTTP
 * abort answers `httpStatus` with `fault filter abort`; a gRPC abort answers 200 with
 * `grpc-status` (trailers-only). Flags `DI`/`FI` are set by the caller.
 */
export function decideFault(fault: Fault | null, random: Random): FaultDecision {
  if (fault === null) return NONE;
  const delayMs = fault.delay !== null && fires(fault.delay.percent, random) ? fault.delay.ms : 0;
  let abort: LocalReply | null = null;
  const a = fault.abort;
  if (a !== null && fires(a.percent, random)) {
    if (a.httpStatus !== null) abort = localReply(a.httpStatus, LOCAL_BODY.fault, 'FI');
    else {
      const code = GRPC_STATUS_CODES[a.grpcStatus.toUpperCase()] ?? 2;
      abort = localReply(200, '', 'FI', {
        'content-type': 'application/grpc',
        'grpc-status': String(code),
        'grpc-message': LOCAL_BODY.fault,
      });
    }
  }
  return delayMs === 0 && abort === null ? NONE : { delayMs, abort };
}
