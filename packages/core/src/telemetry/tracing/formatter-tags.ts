import type { Span } from '@opentelemetry/api';
import type { CustomTag } from '../../config/schema/telemetry.js';
import type { AccessLogEntry } from '../access-log/entry.js';
import { compileTextFormat, type LineFormatter } from '../access-log/format.js';

/** Telemetry `customTags` of the `formatter` kind, compiled: [tag name, format]. */
export type FormatterTags = readonly (readonly [string, LineFormatter])[];

export const NO_FORMATTER_TAGS: FormatterTags = Object.freeze([]);

/**
 * The `formatter` custom tags of a tracing spec. Their value is an Envoy substitution
 * format string (`%REQ(:PATH)%`, `%RESPONSE_CODE%`, ...) that Envoy evaluates when the
 * span is finalized, with the response known (envoy tracing custom_tag.cc
 * FormatterCustomTag); meshlet evaluates it with its access-log formatter at span end.
 */
export function compileFormatterTags(tags: Readonly<Record<string, CustomTag>>): FormatterTags {
  const out: [string, LineFormatter][] = [];
  for (const [name, tag] of Object.entries(tags)) {
    if (tag.formatter !== undefined) out.push([name, compileTextFormat(tag.formatter.value)]);
  }
  return out.length === 0 ? NO_FORMATTER_TAGS : Object.freeze(out);
}

/** Set the formatter tags on a recording span from the request's finished entry. */
export function setFormatterTags(span: Span, tags: FormatterTags, entry: () => AccessLogEntry): void {
  if (tags.length === 0 || !span.isRecording()) return;
  const e = entry();
  // compileTextFormat ends every line with a newline, as an access log line; a tag has none.
  for (const [name, format] of tags) span.setAttribute(name, format(e).slice(0, -1));
}
