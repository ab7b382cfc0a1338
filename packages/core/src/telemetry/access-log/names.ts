/**
 * Names Envoy's access log prints for codes and flags.
 */
import { GRPC_STATUS_CODES } from '../../config/schema/virtual-service-grpc-status.js';

/** `%GRPC_STATUS(CAMEL_STRING)%` (envoy source/common/grpc/common.cc grpcStatusToString). */
const GRPC_CAMEL = [
  'Ok',
  'Canceled',
  'Unknown',
  'InvalidArgument',
  'DeadlineExceeded',
  'NotFound',
  'AlreadyExists',
  'PermissionDenied',
  'ResourceExhausted',
  'FailedPrecondition',
  'Aborted',
  'OutOfRange',
  'Unimplemented',
  'Internal',
  'Unavailable',
  'DataLoss',
  'Unauthenticated',
];

/** `%GRPC_STATUS(SNAKE_STRING)%` (absl::StatusCodeToString): the codes' canonical names. */
const GRPC_SNAKE: readonly string[] = Object.entries(GRPC_STATUS_CODES)
  .sort((a, b) => a[1] - b[1])
  .map(([name]) => name);

/** A code's name, or the number itself for one without a name (`InvalidCode`, user-defined). */
export function grpcStatusName(code: number, style: 'CAMEL_STRING' | 'SNAKE_STRING'): string {
  const names = style === 'CAMEL_STRING' ? GRPC_CAMEL : GRPC_SNAKE;
  return names[code] ?? String(code);
}

/**
 * The response flags, short and long, in Envoy's order (envoy
 * source/common/stream_info/utility.h CORE_RESPONSE_FLAGS): `%RESPONSE_FLAGS%` and
 * `%RESPONSE_FLAGS_LONG%` list the set flags in this order.
 */
export const RESPONSE_FLAGS: readonly (readonly [string, string])[] = [
  ['LH', 'FailedLocalHealthCheck'],
  ['UH', 'NoHealthyUpstream'],
  ['UT', 'UpstreamRequestTimeout'],
  ['LR', 'LocalReset'],
  ['UR', 'UpstreamRemoteReset'],
  ['UF', 'UpstreamConnectionFailure'],
  ['UC', 'UpstreamConnectionTermination'],
  ['UO', 'UpstreamOverflow'],
  ['NR', 'NoRouteFound'],
  ['DI', 'DelayInjected'],
  ['FI', 'FaultInjected'],
  ['RL', 'RateLimited'],
  ['UAEX', 'UnauthorizedExternalService'],
  ['RLSE', 'RateLimitServiceError'],
  ['DC', 'DownstreamConnectionTermination'],
  ['URX', 'UpstreamRetryLimitExceeded'],
  ['SI', 'StreamIdleTimeout'],
  ['IH', 'InvalidEnvoyRequestHeaders'],
  ['DPE', 'DownstreamProtocolError'],
  ['UMSDR', 'UpstreamMaxStreamDurationReached'],
  ['RFCF', 'ResponseFromCacheFilter'],
  ['NFCF', 'NoFilterConfigFound'],
  ['DT', 'DurationTimeout'],
  ['UPE', 'UpstreamProtocolError'],
  ['NC', 'NoClusterFound'],
  ['OM', 'OverloadManagerTerminated'],
  ['DF', 'DnsResolutionFailed'],
  ['DO', 'DropOverload'],
  ['DR', 'DownstreamRemoteReset'],
];

/** `%RESPONSE_FLAGS_LONG%`: the long names, `,`-joined in Envoy's order; `-` for none. */
export function longResponseFlags(flags: readonly string[]): string {
  if (flags.length === 0) return '-';
  const out: string[] = [];
  for (const [short, long] of RESPONSE_FLAGS) if (flags.includes(short)) out.push(long);
  return out.length === 0 ? '-' : out.join(',');
}
