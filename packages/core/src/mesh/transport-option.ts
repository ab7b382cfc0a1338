import { MeshletError } from '../errors/meshlet-error.js';
import type { Transport } from '../outbound/transport.js';
import { createGotTransport } from '../outbound/transports/got-transport.js';
import { createUndiciTransport } from '../outbound/transports/undici-transport.js';

/** `createMesh({ transport })`: a built-in by name, or any `Transport` (the mock mesh's in-memory one). */
export type TransportOption = 'got' | 'undici' | Transport;

/** The transport to use, and whether the mesh owns it (and so closes it on `close()`). */
export function resolveTransport(option: TransportOption | undefined): {
  transport: Transport;
  owned: boolean;
} {
  if (option === undefined || option === 'got') return { transport: createGotTransport(), owned: true };
  if (option === 'undici') return { transport: createUndiciTransport(), owned: true };
  if (
    typeof option === 'object' &&
    option !== null &&
    typeof option.request === 'function' &&
    typeof option.close === 'function'
  ) {
    return { transport: option, owned: false };
  }
  throw new MeshletError(
    'MESHLET_ERR_MESH_OPTIONS',
    `createMesh: transport must be 'got', 'undici' or an object with request() and close() (got ${JSON.stringify(option)})`,
    { option: 'transport' },
  );
}
