/** Envoy response flags meshlet sets (spec/traffic.md §4). */
export type ResponseFlag =
  | 'UH'
  | 'UF'
  | 'UO'
  | 'NR'
  | 'NC'
  | 'URX'
  | 'UT'
  | 'UC'
  | 'UR'
  | 'LR'
  | 'DI'
  | 'FI'
  | 'RL'
  | 'RLSE'
  | 'UAEX'
  | 'DC'
  | 'DT'
  | 'DPE';

/** `res.meshlet`: what the mesh did with a call. */
export interface MeshletInfo {
  /** Envoy response flags, empty when none (Envoy prints `-`). */
  readonly flags: readonly ResponseFlag[];
  /** Tries made, 1-based (what `x-envoy-attempt-count` said on the last one); 0 when no upstream was tried. */
  readonly attempts: number;
  /** The endpoint that produced the response; null for local replies. */
  readonly upstream: {
    readonly host: string;
    readonly subset: string | null;
    readonly address: string;
    readonly cluster: string;
  } | null;
  /** `<vs-ns>/<vs-name>/<rule>` of the matched route, `default` for Istio's default route, null when none. */
  readonly route: string | null;
  /** Why retries were off for this call even though the route allows them, e.g. `body-not-replayable`. */
  readonly retriesDisabled: string | null;
}
