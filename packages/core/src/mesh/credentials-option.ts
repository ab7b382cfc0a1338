import type { MountedCredentials } from '../identity/mounted-secret.js';
import { MeshletError } from '../errors/meshlet-error.js';

/** `createMesh({ credentials })`: a directory, or a map of secret names to directories. */
export function credentialsOption(option: unknown): MountedCredentials | undefined {
  if (option === undefined) return undefined;
  if (typeof option === 'string' && option !== '') return option;
  if (
    typeof option === 'object' &&
    option !== null &&
    !Array.isArray(option) &&
    Object.values(option).every((v) => typeof v === 'string' && v !== '')
  )
    return option as Readonly<Record<string, string>>;
  throw new MeshletError(
    'MESHLET_ERR_MESH_OPTIONS',
    `createMesh: credentials must be a directory holding one directory per secret, or a map from secret name to its directory (got ${JSON.stringify(option)})`,
    { option: 'credentials' },
  );
}
