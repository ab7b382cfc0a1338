import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import type { KindDefinition } from '../../../src/config/kind-definition.js';
import { SECURITY_KINDS } from '../../../src/config/kinds-security.js';
import type { Finding } from '../../../src/config/validate/context.js';
import { validateSpec } from '../../../src/config/validate/run.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The Istio sample YAML, read in place (never copied into the repo). */
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

export function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) return yamlFiles(full);
    return /\.ya?ml$/.test(entry) ? [full] : [];
  });
}

export function definitionFor(kind: string): KindDefinition | undefined {
  return SECURITY_KINDS.find((d) => d.kind === kind);
}

/** Documents of our kinds in one file, `_err` stripped off. */
export function docsOf(file: string): SampleDoc[] {
  let text = readFileSync(file, 'utf8');
  // Task pages apply their YAML through a shell heredoc, which expands $CLIENT_IP.
  if (path.relative(SAMPLES, file).startsWith('tasks')) text = text.replaceAll('$CLIENT_IP', '192.0.2.10');
  const docs = parseAllDocuments(text);
  return docs.flatMap((d, index) => {
    const js: unknown = d.toJS();
    if (typeof js !== 'object' || js === null) return [];
    const o = js as {
      kind?: string;
      metadata?: { name?: string; namespace?: string };
      spec?: unknown;
      _err?: string;
    };
    if (o.kind === undefined || definitionFor(o.kind) === undefined) return [];
    return [
      {
        file: path.relative(SAMPLES, file),
        index,
        kind: o.kind,
        name: o.metadata?.name ?? '',
        namespace: o.metadata?.namespace ?? 'default',
        spec: o.spec,
        err: o._err,
      },
    ];
  });
}

export function validate(kind: string, spec: unknown, namespace = 'default'): Finding[] {
  const def = definitionFor(kind);
  if (def === undefined) throw new Error(`no definition for ${kind}`);
  return validateSpec(def, spec, namespace).findings;
}
