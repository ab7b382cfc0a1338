import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { isMeshletError } from '../../src/errors/meshlet-error.js';
import type { RateLimitResponse, RlsUnit } from '../../src/inbound/ratelimit/rls-messages.js';
import {
  createRateLimitService,
  type RateLimitCall,
  type RateLimitConfigInput,
} from '../../src/testing/rate-limit-service.js';

export type {
  RateLimitConfigInput,
  RateLimitDescriptorConfig,
  RateLimitServiceConfig as RateLimitConfig,
} from '../../src/testing/rate-limit-service.js';

/**
 * A real gRPC rate limit service (RLS) for tests: `envoy.service.ratelimit.v3.RateLimitService/
 * ShouldRateLimit` on loopback (@grpc/grpc-js over HTTP/2), decoding with @grpc/proto-loader
 * from a .proto fixture so what meshlet sends is checked by a decoder that is not meshlet's.
 * Unless a test answers by hand, it answers from the mock mesh's in-memory envoyproxy/ratelimit
 * (src/testing/rate-limit-service.ts): a thin gRPC shell over `createRateLimitService`.
 */

/** A RateLimitRequest as @grpc/proto-loader decodes it (proto field names, unset messages null). */
export interface DecodedRateLimitRequest {
  readonly domain: string;
  readonly descriptors: readonly DecodedRateLimitDescriptor[];
  readonly hits_addend: number;
}

export interface DecodedRateLimitDescriptor {
  readonly entries: readonly { readonly key: string; readonly value: string }[];
  /** The `limit` override (envoy.type.v3.RateLimitUnit names). */
  readonly limit: { readonly requests_per_unit: number; readonly unit: string } | null;
  /** Per-descriptor hits_addend (google.protobuf.UInt64Value), newer Envoy. */
  readonly hits_addend: { readonly value: number } | null;
}

export type RlsCodeName = 'UNKNOWN' | 'OK' | 'OVER_LIMIT';
export type RlsUnitName = 'UNKNOWN' | 'SECOND' | 'MINUTE' | 'HOUR' | 'DAY' | 'WEEK' | 'MONTH' | 'YEAR';

/** A DescriptorStatus in proto-loader's object form; a number sends an enum value the proto does not name. */
export interface DescriptorStatusObject {
  code?: RlsCodeName | number;
  current_limit?: { name?: string; requests_per_unit?: number; unit?: RlsUnitName | number } | null;
  limit_remaining?: number;
  duration_until_reset?: { seconds: number; nanos?: number } | null;
  quota?: RlsQuotaObject;
}

/** RateLimitResponse.Quota (not implemented by Envoy; here so a test can send it). */
export interface RlsQuotaObject {
  requests: number;
  valid_until?: { seconds: number; nanos?: number };
  id?: string;
}

/** A RateLimitResponse in proto-loader's object form. */
export interface RateLimitResponseObject {
  overall_code?: RlsCodeName | number;
  statuses?: DescriptorStatusObject[];
  response_headers_to_add?: { key: string; value: string }[];
  request_headers_to_add?: { key: string; value: string }[];
  raw_body?: Buffer;
  dynamic_metadata?: { fields: Record<string, { string_value?: string; number_value?: number }> };
  quota?: RlsQuotaObject;
}

/** A gRPC error in place of a response; `details` is the status message. */
export interface RlsGrpcError {
  readonly grpcError: grpc.status;
  readonly details?: string;
}

/**
 * What the server does with one call: answer, fail with a gRPC status, or never answer.
 * `fromConfig` computes (and counts) the answer the configuration gives, for a handler that
 * only decorates it or answers by hand on some calls only.
 */
export type RateLimitHandler = (
  req: DecodedRateLimitRequest,
  fromConfig: () => RateLimitResponseObject | RlsGrpcError,
) => RateLimitResponseObject | RlsGrpcError | 'hang';

export interface RateLimitServerOptions {
  readonly handler?: RateLimitHandler;
  readonly config?: RateLimitConfigInput;
  /** The clock, in ms since the epoch; the window and the reset use whole seconds of it. */
  readonly now?: () => number;
  /** The service's SHADOW_MODE setting: an overall OVER_LIMIT is answered OK. */
  readonly globalShadowMode?: boolean;
  readonly credentials?: grpc.ServerCredentials;
}

export interface RateLimitGrpcServer {
  readonly port: number;
  readonly seen: DecodedRateLimitRequest[];
  /** The `:authority` of each call. */
  readonly authorities: string[];
  /** The fixed-window counters by cache key (`<domain>_<key>_<value>_..._<window start s>`), of the windows still open. */
  readonly counters: ReadonlyMap<string, number>;
  /** Replaces the configuration, as a reload does; the counters stay (they live in Redis). Throws MeshletError MESHLET_ERR_RATELIMIT_CONFIG on an invalid one. */
  setConfig(config: RateLimitConfigInput): void;
  close(): Promise<void>;
}

const PROTO = path.resolve(import.meta.dirname, '../fixtures/ratelimit/rls.proto');

type ShouldRateLimitMethod = grpc.MethodDefinition<DecodedRateLimitRequest, RateLimitResponseObject>;

/** The fixture's ShouldRateLimit method: its path and proto-loader's (de)serializers, both ways. */
export function loadRlsService(): {
  readonly service: grpc.ServiceDefinition;
  readonly method: ShouldRateLimitMethod;
} {
  const definition = protoLoader.loadSync(PROTO, {
    keepCase: true,
    longs: Number,
    enums: String,
    defaults: true,
  });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as {
    envoy: { service: { ratelimit: { v3: { RateLimitService: { service: grpc.ServiceDefinition } } } } };
  };
  const service = pkg.envoy.service.ratelimit.v3.RateLimitService.service;
  return { service, method: service['ShouldRateLimit'] as ShouldRateLimitMethod };
}

const UNITS: ReadonlySet<string> = new Set<RlsUnit>([
  'SECOND',
  'MINUTE',
  'HOUR',
  'DAY',
  'WEEK',
  'MONTH',
  'YEAR',
]);

/** The decoded request as the in-memory service takes it; an enum number the proto does not name is UNKNOWN. */
function toCall(req: DecodedRateLimitRequest): RateLimitCall {
  return {
    domain: req.domain,
    descriptors: req.descriptors.map((d) => ({
      entries: d.entries,
      limit:
        d.limit === null
          ? null
          : {
              requestsPerUnit: d.limit.requests_per_unit,
              unit: UNITS.has(d.limit.unit) ? (d.limit.unit as RlsUnit) : 'UNKNOWN',
            },
      hitsAddend: d.hits_addend?.value ?? null,
    })),
    hitsAddend: req.hits_addend,
  };
}

/** The service's answer in proto-loader's object form. */
function toObject(r: RateLimitResponse): RateLimitResponseObject {
  return {
    overall_code: r.overallCode,
    statuses: r.statuses.map((s) => ({
      code: s.code,
      ...(s.currentLimit === null
        ? {}
        : {
            current_limit: {
              name: s.currentLimit.name,
              requests_per_unit: s.currentLimit.requestsPerUnit,
              unit: s.currentLimit.unit,
            },
          }),
      limit_remaining: s.limitRemaining,
      ...(s.durationUntilResetMs === null
        ? {}
        : {
            duration_until_reset: {
              seconds: Math.floor(s.durationUntilResetMs / 1000),
              nanos: (s.durationUntilResetMs % 1000) * 1e6,
            },
          }),
    })),
  };
}

/**
 * Starts the server on 127.0.0.1, port 0. Without a handler every call is answered from the
 * configuration. As envoyproxy/ratelimit: an unknown domain matches no limit and is OK; an
 * empty domain or descriptor list (or anything else the service refuses with
 * MESHLET_ERR_RATELIMIT_REQUEST) is a gRPC UNKNOWN error (a Go error that is not a status).
 */
export async function startRateLimitServer(
  options: RateLimitServerOptions = {},
): Promise<RateLimitGrpcServer> {
  const { service } = loadRlsService();
  const rls = createRateLimitService({
    config: options.config ?? [],
    now: options.now ?? Date.now,
    globalShadowMode: options.globalShadowMode ?? false,
  });
  const seen: DecodedRateLimitRequest[] = [];
  const authorities: string[] = [];
  const hanging: grpc.sendUnaryData<RateLimitResponseObject>[] = [];

  // What envoyproxy/ratelimit answers with a Go error (not a gRPC status) reaches the client as UNKNOWN.
  const fromConfig = (req: DecodedRateLimitRequest): RateLimitResponseObject | RlsGrpcError => {
    try {
      return toObject(rls.shouldRateLimit(toCall(req)));
    } catch (err) {
      if (isMeshletError(err) && err.code === 'MESHLET_ERR_RATELIMIT_REQUEST')
        return { grpcError: grpc.status.UNKNOWN, details: err.message };
      throw err;
    }
  };

  const server = new grpc.Server();
  server.addService(service, {
    ShouldRateLimit: (
      call: grpc.ServerUnaryCall<DecodedRateLimitRequest, RateLimitResponseObject>,
      callback: grpc.sendUnaryData<RateLimitResponseObject>,
    ) => {
      seen.push(call.request);
      authorities.push(call.getHost());
      const answer =
        options.handler === undefined
          ? fromConfig(call.request)
          : options.handler(call.request, () => fromConfig(call.request));
      if (answer === 'hang') {
        hanging.push(callback);
        return;
      }
      if ('grpcError' in answer) {
        callback({ code: answer.grpcError, details: answer.details ?? 'test server error' });
        return;
      }
      callback(null, answer);
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(
      '127.0.0.1:0',
      options.credentials ?? grpc.ServerCredentials.createInsecure(),
      (err, p) => (err === null ? resolve(p) : reject(err)),
    ),
  );
  return {
    port,
    seen,
    authorities,
    get counters() {
      return rls.counters;
    },
    setConfig: (config) => rls.setConfig(config),
    close: () =>
      new Promise<void>((resolve) => {
        for (const cb of hanging.splice(0)) cb({ code: grpc.status.UNAVAILABLE, details: 'closing' });
        server.tryShutdown(() => resolve());
      }),
  };
}
