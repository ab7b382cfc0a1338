export { meshlet, NOT_NORMALIZED_BODY, type MeshletFastifyOptions } from './plugin.js';
export { meshlet as default } from './plugin.js';
