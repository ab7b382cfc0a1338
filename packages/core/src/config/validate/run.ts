import type { KindDefinition } from '../kind-definition.js';
import { createValidationContext, type Finding } from './context.js';
import { zodIssuesToFindings } from './zod-issues.js';
import type { FieldPath } from '../diagnostic.js';

/** Collect the keys a strict object schema knows at `path`, for "did you mean" hints. */
function knownKeysFor(def: KindDefinition, spec: unknown): (path: FieldPath) => readonly string[] {
  return (path) => {
    // Walk the JSON Schema of the kind: cheap enough for error paths only.
    let node: unknown = jsonSchemaOf(def);
    for (const seg of path.slice(1)) {
      node = step(node, seg);
      if (node === undefined) return [];
    }
    void spec;
    return keysOf(node);
  };
}

const schemaCache = new WeakMap<KindDefinition, unknown>();
function jsonSchemaOf(def: KindDefinition): unknown {
  let s = schemaCache.get(def);
  if (s === undefined) {
    try {
      s = (def.spec as unknown as { toJSONSchema?: () => unknown }).toJSONSchema?.() ?? {};
    } catch {
      s = {};
    }
    schemaCache.set(def, s);
  }
  return s;
}

type JsonSchema = {
  properties?: Record<string, unknown>;
  items?: unknown;
  additionalProperties?: unknown;
  anyOf?: unknown[];
  oneOf?: unknown[];
  allOf?: unknown[];
};

function alternatives(node: unknown): JsonSchema[] {
  if (typeof node !== 'object' || node === null) return [];
  const n = node as JsonSchema;
  const alts = [...(n.anyOf ?? []), ...(n.oneOf ?? []), ...(n.allOf ?? [])];
  return [n, ...alts.flatMap(alternatives)];
}

function step(node: unknown, seg: string | number): unknown {
  for (const n of alternatives(node)) {
    if (typeof seg === 'number' && n.items !== undefined) return n.items;
    if (typeof seg === 'string' && n.properties?.[seg] !== undefined) return n.properties[seg];
    if (typeof seg === 'string' && typeof n.additionalProperties === 'object') return n.additionalProperties;
  }
  return undefined;
}

function keysOf(node: unknown): string[] {
  return alternatives(node).flatMap((n) => Object.keys(n.properties ?? {}));
}

/**
 * Validate one document's `spec` against a kind: the shape (zod) first, then,
 * if the shape holds, the cross-field webhook rules. Returns every finding.
 */
export function validateSpec<S>(
  def: KindDefinition<S>,
  spec: unknown,
  namespace: string,
  rootNamespace = 'istio-system',
): { findings: Finding[]; value: S | undefined } {
  const parsed = def.spec.safeParse(spec, { reportInput: true });
  const ctx = createValidationContext(namespace, rootNamespace);
  if (parsed.success) {
    def.validate?.(parsed.data, ctx);
    return { findings: ctx.findings, value: parsed.data };
  }
  const shape = zodIssuesToFindings(parsed.error.issues, ['spec'], knownKeysFor(def as KindDefinition, spec));
  // When only field rules failed (refinements, code "custom"), the structure is right and
  // the schemas have no transforms, so the input is what a successful parse would return:
  // run the cross-field rules too, so one bad duration does not hide a bad weight.
  if (parsed.error.issues.every((i) => i.code === 'custom')) {
    def.validate?.(spec as S, ctx);
    const seen = new Set(shape.map((f) => `${f.path.join('.')}\0${f.message}`));
    for (const f of ctx.findings) if (!seen.has(`${f.path.join('.')}\0${f.message}`)) shape.push(f);
  }
  return { findings: shape, value: undefined };
}
