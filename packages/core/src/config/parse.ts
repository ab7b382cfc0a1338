import { isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments, Scalar, visit } from 'yaml';
import type { Document, Node } from 'yaml';
import type { FieldPath } from './diagnostic.js';

/** One YAML document of a source, as plain data, with a way back to its lines. */
export interface ParsedDocument {
  /** The document as JS (null for an empty document). */
  readonly value: unknown;
  /** 1-based position of the document's first node. */
  readonly line: number;
  readonly column: number;
  /** Position of a field: the key for a map entry, the item for a list element. */
  readonly locate: (path: FieldPath) => { line: number; column: number };
}

/** A YAML syntax problem, with its position. */
export interface ParseProblem {
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

export interface ParsedText {
  readonly documents: readonly ParsedDocument[];
  readonly problems: readonly ParseProblem[];
}

/** The deepest existing node along `path` (and the key node of its pair, when there is one). */
function walk(doc: Document, path: FieldPath): Node | null {
  let node: unknown = doc.contents;
  let found: Node | null = doc.contents ?? null;
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find(
        (p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg),
      );
      if (pair === undefined) break;
      found = (pair.key as Node | null) ?? found;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg];
      if (item === undefined) break;
      node = item;
      found = item as Node;
    } else {
      break;
    }
  }
  return found;
}

/**
 * Kubernetes reads YAML with go-yaml, where a `:` inside a flow-sequence scalar only
 * starts a value when a space follows; the YAML 1.2 parser also ends the scalar at
 * `:` before `]` or `,`. So `[1.2.3.4, 001:db8::]` (an IPv6 address in Istio's own
 * serviceentry-valid.yaml) would become a map. Turn such pairs back into the scalar.
 */
function restoreFlowColons(doc: Document, text: string): void {
  visit(doc, {
    Map(_key, map, path) {
      const parent = path[path.length - 1];
      if (!isSeq(parent) || parent.flow !== true || map.items.length !== 1) return undefined;
      const pair = map.items[0];
      if (pair === undefined || !isScalar(pair.key)) return undefined;
      const start = pair.key.range?.[0];
      const end = pair.key.range?.[1];
      if (start === undefined || end === undefined || text[start] === '{') return undefined;
      const value = pair.value;
      if (value !== null && !(isScalar(value) && value.value === null && (value.source ?? '') === ''))
        return undefined;
      if (text[end] !== ':' || /\s/.test(text[end + 1] ?? ' ')) return undefined;
      const scalar = new Scalar(`${String(pair.key.value)}:`);
      scalar.range = [start, end + 1, end + 1];
      return scalar;
    },
  });
}

/**
 * Kubernetes prunes `field: null` from CRD objects before validation (structural
 * schema pruning; nullable is never set in Istio's CRDs), so an empty `field:` is the
 * same as no field. Drops null map entries below the document's top level.
 */
function dropNulls(value: unknown, depth: number): unknown {
  if (Array.isArray(value)) return value.map((v) => dropNulls(v, depth + 1));
  if (typeof value === 'object' && value !== null && !(value instanceof Date)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (v === null && depth > 0) continue;
      out[k] = dropNulls(v, depth + 1);
    }
    return out;
  }
  return value;
}

/**
 * Parse multi-document YAML (JSON is YAML too). Syntax errors, duplicate keys and
 * alias bombs become problems with a line and column; nothing throws.
 * `lineOffset` shifts reported lines, for YAML embedded in another document
 * (a ConfigMap's `mesh` key).
 */
export function parseYaml(text: string, lineOffset = 0): ParsedText {
  const counter = new LineCounter();
  const problems: ParseProblem[] = [];
  const documents: ParsedDocument[] = [];
  const pos = (offset: number) => {
    const p = counter.linePos(offset);
    return { line: p.line + lineOffset, column: p.col };
  };
  let docs: ReturnType<typeof parseAllDocuments>;
  try {
    docs = parseAllDocuments(text, {
      lineCounter: counter,
      prettyErrors: true,
      uniqueKeys: true,
      strict: true,
    });
  } catch (err) {
    return {
      documents,
      problems: [{ line: 1 + lineOffset, column: 1, message: `cannot parse YAML: ${String(err)}` }],
    };
  }
  if (!Array.isArray(docs)) return { documents, problems };
  for (const doc of docs) {
    const errors = [...doc.errors];
    for (const e of errors) {
      const p = pos(e.pos[0]);
      problems.push({ ...p, message: `YAML syntax error: ${e.message.split('\n')[0] ?? e.message}` });
    }
    if (errors.length > 0) continue;
    let value: unknown;
    try {
      restoreFlowColons(doc, text);
      value = dropNulls(doc.toJS({ maxAliasCount: 100 }), 0);
    } catch (err) {
      const start = doc.contents?.range?.[0] ?? 0;
      problems.push({
        ...pos(start),
        message: `cannot read YAML document: ${err instanceof Error ? err.message : String(err)}`,
      });
      continue;
    }
    const start = pos(doc.contents?.range?.[0] ?? doc.range?.[0] ?? 0);
    documents.push({
      value: value ?? null,
      line: start.line,
      column: start.column,
      locate: (path) => {
        const node = walk(doc, path);
        return node?.range ? pos(node.range[0]) : start;
      },
    });
  }
  return { documents, problems };
}
