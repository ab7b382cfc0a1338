export {
  meshlet,
  NOT_AT_ROOT_MESSAGE,
  type MeshletExpressOptions,
  type MeshletRequest,
} from './middleware.js';
export { meshlet as default } from './middleware.js';
