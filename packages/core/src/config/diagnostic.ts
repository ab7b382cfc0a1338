/** Severity levels, spelled as istioctl prints them. */
export type DiagnosticLevel = 'Error' | 'Warning' | 'Info';

/** A path into a document: `['spec', 'http', 0, 'retries']`. */
export type FieldPath = readonly (string | number)[];

/** The resource a diagnostic is about, when there is one. */
export interface ResourceRef {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
}

/**
 * One problem found while loading, validating or analyzing configuration.
 * `code` reuses Istio's analyzer codes (IST0106 schema error, IST0002 deprecated, ...)
 * or a `MESHLET_*` code for problems Istio has no code for.
 */
export interface Diagnostic {
  readonly code: string;
  readonly level: DiagnosticLevel;
  /** The file, as given or found; null for config passed as a string. */
  readonly file: string | null;
  /** 1-based line and column, null when unknown. */
  readonly line: number | null;
  readonly column: number | null;
  /** Field path like `spec.http[0].retries.perTryTimeout`; '' for the whole document. */
  readonly path: string;
  readonly message: string;
  readonly resource?: ResourceRef;
}

/** `['spec','http',0,'retries']` -> `spec.http[0].retries` */
export function formatPath(path: FieldPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** `mesh/api.yaml:14:9 spec.http[0].retries.perTryTimeout: "3" is not a duration (use e.g. "3s")` */
export function formatDiagnostic(d: Diagnostic): string {
  const where = d.file === null ? '<inline>' : d.file;
  const pos = d.line === null ? where : `${where}:${d.line}${d.column === null ? '' : `:${d.column}`}`;
  return d.path === '' ? `${pos} ${d.message}` : `${pos} ${d.path}: ${d.message}`;
}

export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.level === 'Error');
}
