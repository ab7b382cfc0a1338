import type { HeaderOperations } from '../compile/plan-types.js';
import type { HeaderRecord } from './request-input.js';

/**
 * `HTTPRoute.headers.{request,response}` (and per destination): removes first,
 * then `set` overwrites, then `add` appends (istio route.go `TranslateHeadersOperations`).
 * Mutates `headers`.
 */
export function applyHeaderOps(headers: HeaderRecord, ops: HeaderOperations | null): void {
  if (ops === null) return;
  for (const name of ops.remove) delete headers[name];
  for (const [name, value] of ops.set) headers[name] = value;
  for (const [name, value] of ops.add) {
    const prev = headers[name];
    headers[name] = prev === undefined ? value : [...(typeof prev === 'string' ? [prev] : prev), value];
  }
}
