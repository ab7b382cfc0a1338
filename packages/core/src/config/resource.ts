import type { FieldPath } from './diagnostic.js';

/** Where a document came from. `locate` maps a field path to its 1-based line/column. */
export interface Origin {
  readonly file: string | null;
  readonly line: number;
  readonly column: number;
  /** Position of the load order: file order, then document order inside a file. */
  readonly index: number;
  readonly locate: (path: FieldPath) => { line: number; column: number };
}

export interface ResourceMetadata {
  readonly name: string;
  /** Defaults to `default` (as `kubectl apply` would) when the document has none. */
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /** metadata.creationTimestamp in epoch ms; null when absent (then load order breaks ties). */
  readonly creationTimestamp: number | null;
}

/** A validated Istio resource. `spec` is typed per kind (see config/kinds.ts). */
export interface Resource<K extends string = string, S = unknown> {
  readonly kind: K;
  /** e.g. `networking.istio.io/v1` */
  readonly apiVersion: string;
  readonly metadata: ResourceMetadata;
  readonly spec: S;
  /**
   * The document's `status`, as written: read-only, not validated, absent when the document
   * has none. Analyzers read it (istio serviceentry/protocoladdresses.go `status.addresses`).
   */
  readonly status?: unknown;
  readonly origin: Origin;
}
