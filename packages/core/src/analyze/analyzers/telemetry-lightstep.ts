import type { AnalysisContext } from '../context.js';
import { newMessage, type AnalysisMessage } from '../message.js';
import { MESSAGE_TYPES } from '../message-types.js';
import { arr, obj, str } from '../read.js';
import { subjectOf } from './subject.js';

/**
 * istio telemetry.LightstepAnalyzer: IST0002 for each Telemetry tracing provider
 * that names a mesh `extensionProviders` entry of the deprecated `lightstep` kind.
 */
export function analyzeLightstepProviders(ctx: AnalysisContext): AnalysisMessage[] {
  const lightstep = new Set(
    ctx.meshConfig.extensionProviders.filter((p) => p.type === 'lightstep').map((p) => p.name),
  );
  if (lightstep.size === 0) return [];
  const out: AnalysisMessage[] = [];
  for (const r of ctx.byKind('Telemetry')) {
    for (const tracing of arr(obj(r.spec)['tracing'])) {
      for (const provider of arr(obj(tracing)['providers'])) {
        const name = str(obj(provider)['name']);
        if (!lightstep.has(name)) continue;
        out.push(
          newMessage(MESSAGE_TYPES.Deprecated, subjectOf(r), [
            `The Lightstep provider ${name} is deprecated, please migrate to OpenTelemetry provider.`,
          ]),
        );
      }
    }
  }
  return out;
}
