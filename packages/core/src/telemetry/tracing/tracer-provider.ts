import { ProxyTracerProvider, SpanKind, trace, type TracerProvider } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  type IdGenerator,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type Sampler,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { TraceExport } from '../config/trace-export-config.js';
import { onlyKinds, providerProcessors } from './provider-exporter.js';

/** OTLP/HTTP export settings; each falls back to the `OTEL_EXPORTER_OTLP_*` variables. */
export interface OtlpOptions {
  /** Full traces URL, e.g. `http://otel-collector.observability:4318/v1/traces`. */
  readonly url?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface TracerProviderOptions {
  /** Use this provider (the application's own). */
  readonly tracerProvider?: TracerProvider;
  /** Mesh sampling; ignored when `OTEL_TRACES_SAMPLER` is set (the SDK reads it). */
  readonly sampler: Sampler;
  /** Ids for meshlet's own provider (the SDK's random ids by default). */
  readonly idGenerator?: IdGenerator;
  readonly serviceName: string;
  /** Extra processors (tests use a SimpleSpanProcessor over an InMemorySpanExporter). */
  readonly spanProcessors?: readonly SpanProcessor[];
  /** OTLP export; `false` to never export even if the environment asks. */
  readonly otlp?: OtlpOptions | false;
  /**
   * The meshConfig tracing providers in force per direction (Telemetry `tracing`
   * providers / `defaultProviders.tracing`). A direction with one exports there; the
   * `OTEL_EXPORTER_OTLP_*` export serves the others. An explicit `otlp` option wins
   * over both.
   */
  readonly providerExports?: { readonly client: TraceExport | null; readonly server: TraceExport | null };
  readonly env?: NodeJS.ProcessEnv;
}

export interface TracerProviderSetup {
  readonly provider: TracerProvider;
  /** True when meshlet created the provider (and so must shut it down). */
  readonly owned: boolean;
  /** Where spans are exported when owned: `otlp`, `console`, `provider:<name>`, or none. */
  readonly exporters: readonly string[];
  /**
   * False when meshlet owns the provider and gave it no span processor: a sampled span
   * would be recorded for nobody, so meshlet only propagates the sampled decision.
   */
  readonly records: boolean;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

/** Whether an application registered its own TracerProvider with the OpenTelemetry API. */
export function globalTracerProviderRegistered(): boolean {
  const p = trace.getTracerProvider();
  if (!(p instanceof ProxyTracerProvider)) return true;
  return p.getDelegate().constructor.name !== 'NoopTracerProvider';
}

const set = (v: string | undefined): v is string => v !== undefined && v.trim() !== '';

/**
 * `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG` as the OTel SDK specification
 * defines them; null when unset or unknown (the mesh sampler applies).
 */
export function samplerFromEnv(env: NodeJS.ProcessEnv): Sampler | null {
  const name = env['OTEL_TRACES_SAMPLER']?.trim().toLowerCase();
  const arg = Number(env['OTEL_TRACES_SAMPLER_ARG']);
  const ratio = Number.isFinite(arg) && arg >= 0 && arg <= 1 ? arg : 1;
  switch (name) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(ratio);
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
    default:
      return null;
  }
}

/** `OTEL_EXPORTER_OTLP_HEADERS`: `k=v,k2=v2`, values URL-encoded. */
function parseHeaders(raw: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of (raw ?? '').split(',')) {
    const i = pair.indexOf('=');
    if (i <= 0) continue;
    try {
      out[decodeURIComponent(pair.slice(0, i).trim())] = decodeURIComponent(pair.slice(i + 1).trim());
    } catch {
      // A malformed pair is skipped, as the SDK does.
    }
  }
  return out;
}

/** The traces URL: the signal-specific variable as given, else the base endpoint + `/v1/traces`. */
function otlpUrl(env: NodeJS.ProcessEnv): string | undefined {
  const traces = env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'];
  if (set(traces)) return traces.trim();
  const base = env['OTEL_EXPORTER_OTLP_ENDPOINT'];
  if (set(base)) return `${base.trim().replace(/\/+$/, '')}/v1/traces`;
  return undefined;
}

/**
 * The application's TracerProvider when it has one (passed, or registered globally),
 * else a NodeTracerProvider of meshlet's own that honours the OTel SDK environment
 * (read from `env`, `process.env` by default):
 * `OTEL_TRACES_SAMPLER`/`_ARG` (over the mesh sampler), `OTEL_SERVICE_NAME`,
 * `OTEL_TRACES_EXPORTER` (`otlp`, `console`, `none`) and `OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT`
 * / `_HEADERS` / `_TIMEOUT`. OTLP export is over HTTP (JSON). meshlet's own provider is
 * not registered globally: the application's instrumentation stays its own business.
 */
export function setupTracerProvider(options: TracerProviderOptions): TracerProviderSetup {
  const external =
    options.tracerProvider ?? (globalTracerProviderRegistered() ? trace.getTracerProvider() : undefined);
  if (external !== undefined) {
    return Object.freeze({
      provider: external,
      owned: false,
      exporters: Object.freeze([]),
      records: true,
      forceFlush: () => Promise.resolve(),
      shutdown: () => Promise.resolve(),
    });
  }
  const env = options.env ?? process.env;
  const serviceName = set(env['OTEL_SERVICE_NAME']) ? env['OTEL_SERVICE_NAME'] : options.serviceName;
  const processors: SpanProcessor[] = [...(options.spanProcessors ?? [])];
  const exporters: string[] = [];
  const kinds = (env['OTEL_TRACES_EXPORTER'] ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '');
  const wantsOtlp =
    options.otlp !== false &&
    !kinds.includes('none') &&
    (options.otlp !== undefined ||
      set(env['OTEL_EXPORTER_OTLP_ENDPOINT']) ||
      set(env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']) ||
      kinds.includes('otlp'));
  // Directions whose spans the OTLP option / environment export takes.
  const envKinds = new Set<number>([SpanKind.CLIENT, SpanKind.SERVER]);
  const pe = options.otlp === undefined ? options.providerExports : undefined;
  if (pe !== undefined) {
    const targets = [
      ...(pe.client === null ? [] : [{ target: pe.client, kind: SpanKind.CLIENT }]),
      ...(pe.server === null ? [] : [{ target: pe.server, kind: SpanKind.SERVER }]),
    ];
    for (const t of targets) envKinds.delete(t.kind);
    processors.push(...providerProcessors(targets, serviceName));
    for (const name of new Set(targets.map((t) => t.target.provider))) exporters.push(`provider:${name}`);
  }
  if (wantsOtlp && envKinds.size > 0) {
    const o = options.otlp;
    const url = o?.url ?? otlpUrl(env);
    const headers = {
      ...parseHeaders(env['OTEL_EXPORTER_OTLP_HEADERS']),
      ...parseHeaders(env['OTEL_EXPORTER_OTLP_TRACES_HEADERS']),
      ...o?.headers,
    };
    const timeout = Number(env['OTEL_EXPORTER_OTLP_TRACES_TIMEOUT'] ?? env['OTEL_EXPORTER_OTLP_TIMEOUT']);
    processors.push(
      onlyKinds(
        new BatchSpanProcessor(
          new OTLPTraceExporter({
            ...(url === undefined ? {} : { url }),
            headers,
            ...(Number.isFinite(timeout) && timeout > 0 ? { timeoutMillis: timeout } : {}),
          }),
        ),
        envKinds,
      ),
    );
    exporters.push('otlp');
  }
  if (kinds.includes('console')) {
    processors.push(new BatchSpanProcessor(new ConsoleSpanExporter()));
    exporters.push('console');
  }
  const provider = new NodeTracerProvider({
    sampler: samplerFromEnv(env) ?? options.sampler,
    ...(options.idGenerator === undefined ? {} : { idGenerator: options.idGenerator }),
    resource: resourceFromAttributes({ 'service.name': serviceName }),
    spanProcessors: processors,
  });
  return Object.freeze({
    provider,
    owned: true,
    exporters: Object.freeze(exporters),
    records: processors.length > 0,
    forceFlush: () => provider.forceFlush().catch(() => undefined),
    shutdown: () => provider.shutdown().catch(() => undefined),
  });
}
