import type { AnalysisContext } from '../context.js';
import { newMessage, type AnalysisMessage } from '../message.js';
import { MESSAGE_TYPES } from '../message-types.js';
import { arr, obj } from '../read.js';
import { subjectOf } from './subject.js';

/**
 * IST0157 for each `accessLogging` entry that names no provider and does not disable
 * logging, when meshConfig names no default access log provider for it to fall back on:
 * istio analyzers/telemetry/providers.go ProviderAnalyzer.
 */
export function analyzeTelemetryProviders(ctx: AnalysisContext): AnalysisMessage[] {
  if (ctx.meshConfig.defaultProviders.accessLogging.length > 0) return [];
  const out: AnalysisMessage[] = [];
  for (const r of ctx.byKind('Telemetry')) {
    for (const raw of arr(obj(r.spec)['accessLogging'])) {
      const entry = obj(raw);
      if (entry['disabled'] === true || arr(entry['providers']).length > 0) continue;
      out.push(
        newMessage(MESSAGE_TYPES.InvalidTelemetryProvider, subjectOf(r), [
          r.metadata.name,
          r.metadata.namespace,
        ]),
      );
    }
  }
  return out;
}
