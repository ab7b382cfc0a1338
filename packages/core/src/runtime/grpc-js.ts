import { createRequire } from 'node:module';
import type * as GrpcJs from '@grpc/grpc-js';

const load = createRequire(import.meta.url);
let grpc: typeof GrpcJs | null = null;

/**
 * @grpc/grpc-js, loaded on first use: it takes tens of milliseconds to load, and only a
 * gRPC ext_authz provider or OTLP/gRPC trace export needs it.
 */
export function grpcJs(): typeof GrpcJs {
  return (grpc ??= load('@grpc/grpc-js') as typeof GrpcJs);
}
