export { createMockMesh } from './mock-mesh.js';
export type { VirtualClock } from './virtual-clock.js';
export type {
  ExpressLike,
  FastifyLike,
  MockApp,
  MockConnection,
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
  MockTcpHandler,
  MockTcpService,
  MockTcpServiceOptions,
  MockWorkload,
} from './types.js';
export type { MockRateLimitOptions, MockRateLimitService } from './mock-rate-limit.js';
export type {
  RateLimitCall,
  RateLimitConfigInput,
  RateLimitDescriptorConfig,
  RateLimitServiceConfig,
} from './rate-limit-service.js';
