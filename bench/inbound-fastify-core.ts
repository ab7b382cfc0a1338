// The @meshlet/core surface the benchmark server and @meshlet/fastify load from source
// (through jiti's alias): what they import from the package, including the adapter
// helpers the package index does not export yet.
export { compilePlan } from '../packages/core/src/compile/compile-plan.js';
export { loadConfigText } from '../packages/core/src/config/load.js';
export { toInboundRequest, nodeConnectionOf } from '../packages/core/src/inbound/node-request.js';
export { inboundHandleFrom } from '../packages/core/src/inbound/node-handle.js';
export { applyRequestHeaderEdits } from '../packages/core/src/inbound/node-headers.js';
