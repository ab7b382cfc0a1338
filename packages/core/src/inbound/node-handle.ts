import { MeshletError } from '../errors/meshlet-error.js';
import type { InboundHandle } from './handle.js';

/**
 * Reads `options.mesh.inbound` for a framework adapter and checks it has the
 * `InboundHandle` shape, so a missing or wrong `mesh` fails when the adapter is
 * registered, naming the option, instead of on the first request. Throws
 * `MESHLET_ERR_ADAPTER_OPTIONS`.
 */
export function inboundHandleFrom(options: unknown, adapter: string): InboundHandle {
  const fail = (problem: string): never => {
    throw new MeshletError(
      'MESHLET_ERR_ADAPTER_OPTIONS',
      `${adapter}: ${problem}; pass { mesh } where mesh is the value createMesh() returned (or any { inbound: { decide, peerOf } })`,
      { adapter },
    );
  };
  if (typeof options !== 'object' || options === null) return fail('options must be an object');
  const mesh = (options as { mesh?: unknown }).mesh;
  if (typeof mesh !== 'object' || mesh === null) return fail('options.mesh is required');
  const inbound = (mesh as { inbound?: unknown }).inbound;
  if (typeof inbound !== 'object' || inbound === null) return fail('options.mesh.inbound is missing');
  const { decide, peerOf, observe, forwarded } = inbound as Partial<Record<keyof InboundHandle, unknown>>;
  if (typeof decide !== 'function') return fail('options.mesh.inbound.decide must be a function');
  if (typeof peerOf !== 'function') return fail('options.mesh.inbound.peerOf must be a function');
  if (observe !== undefined && typeof observe !== 'function')
    return fail('options.mesh.inbound.observe must be a function when given');
  if (forwarded !== undefined && typeof forwarded !== 'function')
    return fail('options.mesh.inbound.forwarded must be a function when given');
  return inbound as InboundHandle;
}
