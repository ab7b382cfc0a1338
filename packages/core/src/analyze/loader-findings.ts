import type { Diagnostic } from '../config/diagnostic.js';
import { DIAGNOSTIC_CODES } from '../config/diagnostic-codes.js';
import type { ConfigSnapshot } from '../config/snapshot.js';
import { reference, type AnalysisMessage } from './message.js';
import { MESSAGE_TYPES } from './message-types.js';

/** Loader codes that are not findings about configuration: unreadable or unparseable input. */
const INPUT_PROBLEMS: ReadonlySet<string> = new Set([DIAGNOSTIC_CODES.source, DIAGNOSTIC_CODES.syntax]);

/** Diagnostics about input that could not be read or parsed (istioctl exits 65 on these). */
export function inputProblems(snapshot: ConfigSnapshot): Diagnostic[] {
  return snapshot.diagnostics.filter((d) => INPUT_PROBLEMS.has(d.code));
}

function text(d: Diagnostic): string {
  const detail = d.path === '' ? d.message : `${d.path}: ${d.message}`;
  if (d.code === MESSAGE_TYPES.SchemaValidationError.code) {
    // Istio's schema analyzer reports webhook errors as IST0106 and webhook warnings as IST0133.
    return d.level === 'Error'
      ? `Schema validation error: ${detail}`
      : `Schema validation warning: ${detail}`;
  }
  if (d.code === MESSAGE_TYPES.Deprecated.code && !d.message.startsWith('Deprecated:'))
    return `Deprecated: ${detail}`;
  return d.message;
}

function code(d: Diagnostic): string {
  return d.code === MESSAGE_TYPES.SchemaValidationError.code && d.level !== 'Error'
    ? MESSAGE_TYPES.SchemaWarning.code
    : d.code;
}

/**
 * The loader's findings as analyzer messages: IST0106 (IST0133 when only a
 * warning), IST0002, IST0130, IST0131 and meshlet's own codes (unsupported
 * fields, duplicates). Skipped non-Istio kinds are left out, as istioctl says
 * nothing about them; unreadable and unparseable input is left to the caller.
 */
export function loaderFindings(snapshot: ConfigSnapshot): AnalysisMessage[] {
  const out: AnalysisMessage[] = [];
  for (const d of snapshot.diagnostics) {
    if (INPUT_PROBLEMS.has(d.code) || d.code === DIAGNOSTIC_CODES.skippedKind) continue;
    const ref = reference(d.file, d.line);
    const r = d.resource;
    out.push(
      Object.freeze({
        code: code(d),
        level: d.level,
        ...(r === undefined ? {} : { origin: `${r.kind} ${r.namespace}/${r.name}`, resource: r }),
        ...(ref === undefined ? {} : { reference: ref }),
        file: d.file,
        line: d.line,
        message: text(d),
      }),
    );
  }
  return out;
}
