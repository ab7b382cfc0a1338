import type { ConfigSnapshot } from '../config/snapshot.js';
import { ANALYZERS } from './analyzers.js';
import { createContext } from './context.js';
import { withoutIgnoredNamespaces } from './ignored-namespaces.js';
import { loaderFindings } from './loader-findings.js';
import { sortAndDedupe, type AnalysisMessage } from './message.js';
import { isSuppressed, type Suppression } from './suppress.js';

/** Code, resource and text: one finding whatever line it points at. */
function sameFinding(m: AnalysisMessage): string {
  return `${m.code} ${m.origin ?? ''} ${m.message}`;
}

export interface AnalyzeOptions {
  /** Run only these analyzers (Istio names, e.g. `gateway.ConflictingGatewayAnalyzer`); default all. */
  readonly analyzers?: readonly string[];
  /** Include the loader's findings (IST0106, IST0002, IST0130, ...); default true. */
  readonly includeLoaderFindings?: boolean;
  /** `istioctl analyze -S code=resource` suppressions. */
  readonly suppress?: readonly Suppression[];
}

/**
 * Run Istio's file-checkable analyzers over a snapshot, as `istioctl analyze`
 * does: the messages sorted (level, code, resource) and deduplicated. Messages
 * about a resource annotated `galley.istio.io/analyze-suppress: <code>[,...]`
 * (or `*`) are dropped, as are those matching `options.suppress`.
 */
export function analyze(snapshot: ConfigSnapshot, options: AnalyzeOptions = {}): AnalysisMessage[] {
  const ctx = createContext(withoutIgnoredNamespaces(snapshot));
  const selected = options.analyzers;
  const messages: AnalysisMessage[] = [];
  for (const a of ANALYZERS)
    if (selected === undefined || selected.includes(a.name)) messages.push(...a.run(ctx));
  if (options.includeLoaderFindings !== false) {
    // The loader flags some of what analyzers report (deprecated fields: IST0002);
    // keep the analyzer's message, which points where istioctl's does.
    const seen = new Set(messages.map(sameFinding));
    messages.push(...loaderFindings(snapshot).filter((m) => !seen.has(sameFinding(m))));
  }
  const suppress = options.suppress ?? [];
  return Object.freeze(
    sortAndDedupe(messages.filter((m) => !isSuppressed(m, snapshot, suppress))),
  ) as AnalysisMessage[];
}
