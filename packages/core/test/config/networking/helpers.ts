import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { formatPath } from '../../../src/config/diagnostic.js';
import { NETWORKING_KINDS } from '../../../src/config/kinds-networking.js';
import type { Finding } from '../../../src/config/validate/context.js';
import { validateSpec } from '../../../src/config/validate/run.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** Istio's YAML, kept outside the repository (see the brief). */
export const SAMPLES = path.resolve(here, '../../../../../../shared/istio-samples');

export interface SampleDoc {
  readonly file: string;
  readonly index: number;
  readonly kind: string;
  readonly name: string;
  readonly namespace: string;
  readonly spec: unknown;
  readonly err: string | undefined;
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(path.join(dir, e.name)) : e.name.endsWith('.yaml') ? [path.join(dir, e.name)] : [],
  );
}

const KIND_NAMES = new Set(NETWORKING_KINDS.map((k) => k.kind));

/** Every document of a networking kind in the samples (List items included). */
export function sampleDocs(filter: (file: string) => boolean): SampleDoc[] {
  const out: SampleDoc[] = [];
  for (const file of walk(SAMPLES).filter(filter).sort()) {
    const docs = parseAllDocuments(readFileSync(file, 'utf8'));
    for (const [index, d] of (Array.isArray(docs) ? docs : [docs]).entries()) {
      const raw: unknown = d.toJS();
      const items =
        raw !== null && typeof raw === 'object' && (raw as { kind?: unknown }).kind === 'List'
          ? ((raw as { items?: unknown[] }).items ?? [])
          : [raw];
      for (const item of items) {
        if (item === null || typeof item !== 'object') continue;
        const o = item as Record<string, unknown>;
        const kind = typeof o.kind === 'string' ? o.kind : '';
        const apiVersion = typeof o.apiVersion === 'string' ? o.apiVersion : '';
        if (!KIND_NAMES.has(kind) || !apiVersion.startsWith('networking.istio.io/')) continue;
        const meta = (o.metadata ?? {}) as { name?: string; namespace?: string };
        out.push({
          file: path.relative(SAMPLES, file),
          index,
          kind,
          name: meta.name ?? '',
          namespace: meta.namespace ?? 'default',
          spec: o.spec,
          err: typeof o._err === 'string' ? o._err : undefined,
        });
      }
    }
  }
  return out;
}

export function definition(kind: string) {
  const def = NETWORKING_KINDS.find((k) => k.kind === kind);
  if (def === undefined) throw new Error(`no definition for ${kind}`);
  return def;
}

/** Validate a spec of `kind`; a missing spec is reported as the loader will (`spec: Required value`). */
export function validate(kind: string, spec: unknown, namespace = 'default'): Finding[] {
  return validateSpec(definition(kind), spec, namespace).findings;
}

export function errors(findings: readonly Finding[]): Finding[] {
  return findings.filter((f) => f.level === 'Error');
}

/** `spec.http[0].retries: message`, the way a user reads a finding. */
export function render(f: Finding): string {
  return `${formatPath(f.path)}: ${f.message}`;
}
