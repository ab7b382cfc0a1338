import type { MeshletInfo, ResponseFlag } from './meshlet-info.js';

/** What the pipeline learns about one call while it runs; frozen into `res.meshlet` at the end. */
export interface CallState {
  flags: ResponseFlag[];
  attempts: number;
  upstream: MeshletInfo['upstream'];
  route: string | null;
  retriesDisabled: string | null;
}

export function newCallState(): CallState {
  return { flags: [], attempts: 0, upstream: null, route: null, retriesDisabled: null };
}

export function toMeshletInfo(s: CallState): MeshletInfo {
  return Object.freeze({
    flags: Object.freeze(s.flags),
    attempts: s.attempts,
    upstream: s.upstream === null ? null : Object.freeze(s.upstream),
    route: s.route,
    retriesDisabled: s.retriesDisabled,
  });
}
