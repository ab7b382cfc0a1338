import { stringify } from 'yaml';
import type { DiagnosticLevel } from '../config/diagnostic.js';
import type { AnalysisMessage } from '../analyze/message.js';

/** `istioctl analyze -o` formats. */
export type OutputFormat = 'log' | 'json' | 'yaml';

const DOCS = 'https://istio.io/latest/docs/reference/config/analysis';

/** istio `url.ConfigAnalysis/<code>/`; meshlet's own codes have no Istio page. */
export function documentationUrl(code: string): string | undefined {
  return code.startsWith('IST') ? `${DOCS}/${code.toLowerCase()}/` : undefined;
}

/** The object istioctl prints per message (diag.Message.Unstructured), keys in Go's sorted map order. */
function unstructured(m: AnalysisMessage): Record<string, string> {
  const url = documentationUrl(m.code);
  const out: Record<string, string> = { code: m.code };
  if (url !== undefined) out['documentationUrl'] = url;
  out['level'] = m.level;
  out['message'] = m.message;
  if (m.origin !== undefined) out['origin'] = m.origin;
  if (m.reference !== undefined) out['reference'] = m.reference;
  return out;
}

// istioctl's colours (istioctl/pkg/util/formatting/formatter.go): bold red errors, yellow warnings.
const COLOURS: Readonly<Record<DiagnosticLevel, string>> = {
  Error: '\u001b[1;31m',
  Warning: '\u001b[33m',
  Info: '',
};

/** `Error [IST0101] (VirtualService default/foo f.yaml:12) Referenced host not found: "bar"` */
export function renderLog(m: AnalysisMessage, color: boolean): string {
  const level = color ? `${COLOURS[m.level]}${m.level}\u001b[0m` : m.level;
  const where =
    m.origin === undefined ? '' : ` (${m.origin}${m.reference === undefined ? '' : ` ${m.reference}`})`;
  return `${level} [${m.code}]${where} ${m.message}`;
}

/** The whole output, as istioctl's formatting.Print builds it (no trailing newline). */
export function formatMessages(
  messages: readonly AnalysisMessage[],
  format: OutputFormat,
  color: boolean,
): string {
  if (format === 'log') return messages.map((m) => renderLog(m, color)).join('\n');
  const objects = messages.map(unstructured);
  // Go's json.MarshalIndent with a tab indent.
  if (format === 'json') return JSON.stringify(objects, null, '\t');
  return stringify(objects, { lineWidth: 0 }).trimEnd();
}
