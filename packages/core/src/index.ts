export { MeshletError, isMeshletError } from './errors/meshlet-error.js';
export { ERROR_CODES, type ErrorCode } from './errors/codes.js';
export { formatDiagnostic, formatPath, hasErrors } from './config/diagnostic.js';
export type { Diagnostic, DiagnosticLevel, FieldPath, ResourceRef } from './config/diagnostic.js';
export type { Resource, ResourceMetadata, Origin } from './config/resource.js';
