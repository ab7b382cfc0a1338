import {
  PEER_METADATA,
  PEER_METADATA_ID,
  type LocalPeerHeaders,
} from '../telemetry/metadata-exchange/peer-metadata.js';
import type { InboundDecision, InboundRequest } from './engine-types.js';
import { copyHeaders } from './node-request.js';

/**
 * Istio's inbound metadata exchange (the peer_metadata filter, first in the sidecar's
 * inbound chain: pilot listener_builder.go appendMxFilter, "before any other HTTP filters";
 * istio/proxy peer_metadata/filter.cc). It takes the caller's `x-envoy-peer-metadata` and
 * `-id` off the request before authentication, authorization and the application see it,
 * and answers with this workload's own: the id when the caller sent an id, the metadata
 * when it sent metadata (MXPropagationMethod::inject), on every response, local replies
 * included (they pass back through the filter).
 */
export interface InboundExchange {
  /** The request as the later stages see it: without the two headers. */
  readonly request: InboundRequest;
  readonly sentId: boolean;
  readonly sentMetadata: boolean;
}

type Headers = InboundRequest['headers'];

/** Whether a request's headers carry either exchange header. */
export function carriesExchange(headers: Headers): boolean {
  return headers[PEER_METADATA_ID] !== undefined || headers[PEER_METADATA] !== undefined;
}

const EXCHANGE_HEADERS: readonly string[] = Object.freeze([PEER_METADATA, PEER_METADATA_ID]);

/** A copy of `headers` without the two exchange headers. */
export function withoutExchange(headers: Headers): Headers {
  return copyHeaders(headers, EXCHANGE_HEADERS);
}

/** The exchange a request carries, or null when it has neither header (the common request). */
export function inboundExchange(req: InboundRequest): InboundExchange | null {
  const sentId = req.headers[PEER_METADATA_ID] !== undefined;
  const sentMetadata = req.headers[PEER_METADATA] !== undefined;
  if (!sentId && !sentMetadata) return null;
  return { request: { ...req, headers: withoutExchange(req.headers) }, sentId, sentMetadata };
}

/**
 * The decision with the exchange's edits: the two headers removed from the request the
 * application reads, and this workload's headers on the response.
 */
export function withExchange(
  d: InboundDecision,
  x: InboundExchange,
  local: LocalPeerHeaders | null,
): InboundDecision {
  const answer: Record<string, string> = {};
  if (local !== null) {
    if (x.sentId) answer[PEER_METADATA_ID] = local.id;
    if (x.sentMetadata) answer[PEER_METADATA] = local.value;
  }
  if (!d.allow) return Object.freeze({ ...d, headers: Object.freeze({ ...d.headers, ...answer }) });
  const removed: string[] = [];
  if (x.sentId) removed.push(PEER_METADATA_ID);
  if (x.sentMetadata) removed.push(PEER_METADATA);
  return {
    ...d,
    removeHeaders: [...d.removeHeaders, ...removed],
    responseHeaders: { ...d.responseHeaders, ...answer },
  };
}
