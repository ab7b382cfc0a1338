import type { ErrorCode } from './codes.js';

const BRAND = Symbol.for('meshlet.error');

/**
 * Every error meshlet throws. The brand makes `isMeshletError` work across two
 * installed copies of the package, where `instanceof` would not.
 */
export class MeshletError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(
    code: ErrorCode,
    message: string,
    details: Record<string, unknown> = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'MeshletError';
    this.code = code;
    this.details = Object.freeze({ ...details });
    Object.defineProperty(this, BRAND, { value: true });
  }
}

export function isMeshletError(value: unknown): value is MeshletError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
}
