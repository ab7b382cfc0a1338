import type { DiagnosticLevel, FieldPath } from '../diagnostic.js';

/** One finding of a validator, before it is given a file and line. */
export interface Finding {
  readonly level: DiagnosticLevel;
  /** IST0106 (schema error), IST0002 (deprecated), IST0133 (schema warning), IST0130/IST0131, or a MESHLET_ code. */
  readonly code: string;
  /** Path relative to the document root, e.g. ['spec','http',0,'timeout']. */
  readonly path: FieldPath;
  readonly message: string;
}

/**
 * Handed to every semantic validator. Validators never throw and never stop at
 * the first problem: they report each one with the path of the offending field.
 */
export interface ValidationContext {
  /** The resource's namespace (after defaulting), for rules that depend on it. */
  readonly namespace: string;
  /** meshConfig.rootNamespace in force (default istio-system). */
  readonly rootNamespace: string;
  error(path: FieldPath, message: string): void;
  warn(path: FieldPath, message: string, code?: string): void;
  info(path: FieldPath, message: string, code?: string): void;
}

export function createValidationContext(
  namespace: string,
  rootNamespace: string,
): ValidationContext & {
  readonly findings: Finding[];
} {
  const findings: Finding[] = [];
  return {
    namespace,
    rootNamespace,
    findings,
    error: (path, message) => findings.push({ level: 'Error', code: 'IST0106', path, message }),
    warn: (path, message, code = 'IST0133') => findings.push({ level: 'Warning', code, path, message }),
    info: (path, message, code = 'IST0133') => findings.push({ level: 'Info', code, path, message }),
  };
}
