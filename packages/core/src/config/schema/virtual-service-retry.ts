import type { FieldPath } from '../diagnostic.js';
import type { ValidationContext } from '../validate/context.js';
import type { HTTPRetry } from './virtual-service.js';

/** HTTPRetry webhook rules (istio pkg/config/validation/agent/validation.go `ValidateHTTPRetry`). */

/** Envoy `x-envoy-retry-on` / `x-envoy-retry-grpc-on` values Istio accepts (agent/validation.go). */
export const RETRY_ON_POLICIES: ReadonlySet<string> = new Set([
  '5xx',
  'gateway-error',
  'reset',
  'reset-before-request',
  'connect-failure',
  'retriable-4xx',
  'refused-stream',
  'retriable-status-codes',
  'retriable-headers',
  'envoy-ratelimited',
  'http3-post-connect-failure',
  'cancelled',
  'deadline-exceeded',
  'internal',
  'resource-exhausted',
  'unavailable',
]);

// Go's http.StatusText: the codes a numeric retryOn item may name.
const HTTP_STATUS_CODES: ReadonlySet<number> = new Set([
  100, 101, 102, 103, 200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 307,
  308, 400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 418, 421,
  422, 423, 424, 425, 426, 428, 429, 431, 451, 500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511,
]);

/** `agent.ValidateHTTPRetry`. */
export function validateRetry(retries: HTTPRetry | undefined, path: FieldPath, ctx: ValidationContext): void {
  if (retries === undefined) return;
  const attempts = retries.attempts ?? 0;
  if (attempts < 0) ctx.error([...path, 'attempts'], 'attempts cannot be negative');
  if (attempts === 0) {
    const set = (['perTryTimeout', 'retryOn', 'retryRemoteLocalities'] as const).filter(
      (k) => retries[k] !== undefined && retries[k] !== '',
    );
    for (const k of set) {
      ctx.error([...path, k], 'http retry policy configured when attempts are set to 0 (disabled)');
    }
  }
  if (retries.retryOn !== undefined && retries.retryOn !== '') {
    for (const policy of retries.retryOn.split(',')) {
      // Go's strconv.Atoi: an optional sign and digits only, so " 503" is not a number.
      const code = /^[+-]?\d+$/.test(policy) ? Number(policy) : 0;
      if (!HTTP_STATUS_CODES.has(code) && !RETRY_ON_POLICIES.has(policy)) {
        ctx.error([...path, 'retryOn'], `${JSON.stringify(policy)} is not a valid retryOn policy`);
      }
    }
  }
}
