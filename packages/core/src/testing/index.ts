export { createMockMesh } from './mock-mesh.js';
export type { VirtualClock } from './virtual-clock.js';
export type {
  ExpressLike,
  FastifyLike,
  MockApp,
  MockContext,
  MockGateway,
  MockGatewayOptions,
  MockHandler,
  MockHop,
  MockMesh,
  MockMeshOptions,
  MockReply,
  MockRequest,
  MockService,
  MockServiceOptions,
  MockWorkload,
} from './types.js';
