import { int32Of, ProtoDecodeError, ProtoWriter, readFields, type ProtoField } from './proto-wire.js';

/**
 * The two messages of `envoy.service.auth.v3.Authorization/Check`, with Envoy's field
 * numbers (api/envoy/service/auth/v3/external_auth.proto, attribute_context.proto;
 * api/envoy/config/core/v3/address.proto and base.proto for Address and
 * HeaderValueOption). Only the fields Envoy fills for an HTTP check are written.
 */

export interface CheckPeer {
  readonly address: string;
  readonly port: number;
  /** The URI SAN of the peer's (source) or the local (destination) certificate; '' without TLS. */
  readonly principal: string;
}

export interface CheckRequestFields {
  readonly source: CheckPeer;
  readonly destination: CheckPeer;
  /** When the proxy received the request, in ms since the epoch. */
  readonly timeMs: number;
  readonly id: string;
  readonly method: string;
  /** Lower-case names, repeats joined with `,`; pseudo-headers included, as Envoy sends them. */
  readonly headers: Readonly<Record<string, string>>;
  readonly path: string;
  readonly host: string;
  readonly scheme: string;
  /** Bytes, or -1 when unknown. */
  readonly size: number;
  readonly protocol: string;
  /** TLS SNI; the session is sent only when there is one. */
  readonly sni: string | null;
  /** The body read for the check, or null. */
  readonly body: Buffer | null;
  /** Send `body` as `raw_body` bytes rather than a UTF-8 `body` string. */
  readonly packAsBytes: boolean;
}

function peer(p: CheckPeer): ProtoWriter {
  // Peer.address(1) = Address.socket_address(1) = SocketAddress{address(2), port_value(3)}
  const socket = new ProtoWriter().string(2, p.address).int(3, p.port);
  return new ProtoWriter().message(1, new ProtoWriter().message(1, socket)).string(4, p.principal);
}

/** CheckRequest{attributes(1): AttributeContext}. */
export function encodeCheckRequest(r: CheckRequestFields): Buffer {
  const http = new ProtoWriter()
    .string(1, r.id)
    .string(2, r.method)
    .stringMap(3, Object.entries(r.headers))
    .string(4, r.path)
    .string(5, r.host)
    .string(6, r.scheme)
    .int(9, r.size)
    .string(10, r.protocol);
  if (r.body !== null) {
    if (r.packAsBytes) http.bytes(12, r.body);
    else http.string(11, r.body.toString('utf8'));
  }
  const seconds = Math.floor(r.timeMs / 1000);
  const time = new ProtoWriter().int(1, seconds).int(2, Math.round((r.timeMs - seconds * 1000) * 1e6));
  const request = new ProtoWriter().message(1, time).message(2, http);
  const attributes = new ProtoWriter()
    .message(1, peer(r.source))
    .message(2, peer(r.destination))
    .message(4, request);
  if (r.sni !== null) attributes.message(12, new ProtoWriter().string(1, r.sni));
  return new ProtoWriter().message(1, attributes).finish();
}

/**
 * The CheckRequest of Envoy's network ext_authz filter (check_request_utils.cc
 * `createTcpCheck`): the connection's source and destination, each with its address and
 * its certificate's URI SAN; no request, and no TLS session unless `include_tls_session`,
 * which istiod does not set.
 */
export function encodeConnectionCheckRequest(r: {
  readonly source: CheckPeer;
  readonly destination: CheckPeer;
}): Buffer {
  const attributes = new ProtoWriter().message(1, peer(r.source)).message(2, peer(r.destination));
  return new ProtoWriter().message(1, attributes).finish();
}

/**
 * config.core.v3.HeaderValueOption.HeaderAppendAction, with the deprecated `append`
 * BoolValue mapped as Envoy maps it (ext_authz_grpc_impl.cc `getAppendAction`): set and
 * true appends, set and false overwrites.
 */
export type AppendAction = 'append' | 'add-if-absent' | 'overwrite-or-add' | 'overwrite-if-exists';

export interface HeaderMutation {
  readonly name: string;
  readonly value: string;
  readonly action: AppendAction;
}

/** DeniedHttpResponse, the shape of both `denied_response` and `error_response`. */
export interface HttpReply {
  /** 0 when the server set none. */
  readonly status: number;
  readonly headers: readonly HeaderMutation[];
  readonly body: string;
}

export interface CheckResponse {
  /** google.rpc.Status code; 0 (OK) allows. */
  readonly code: number;
  readonly message: string;
  readonly denied: HttpReply | null;
  /**
   * `error_response` (field 5, newer Envoy): the server failed and says how to answer.
   * At most one of `denied`, `ok` and `error` is set (the `http_response` oneof).
   */
  readonly error: HttpReply | null;
  readonly ok: {
    readonly headers: readonly HeaderMutation[];
    readonly headersToRemove: readonly string[];
    readonly responseHeadersToAdd: readonly HeaderMutation[];
    readonly queryParametersToSet: readonly (readonly [string, string])[];
    readonly queryParametersToRemove: readonly string[];
  } | null;
}

const ACTIONS: readonly AppendAction[] = [
  'append',
  'add-if-absent',
  'overwrite-or-add',
  'overwrite-if-exists',
];

function str(f: ProtoField): string {
  if (f.wire !== 'len') throw new ProtoDecodeError(`field ${f.field}: expected a string`);
  return f.value.toString('utf8');
}

function msg(f: ProtoField): ProtoField[] {
  if (f.wire !== 'len') throw new ProtoDecodeError(`field ${f.field}: expected a message`);
  return readFields(f.value);
}

function num(f: ProtoField): number {
  if (f.wire !== 'varint') throw new ProtoDecodeError(`field ${f.field}: expected a number`);
  return int32Of(f.value);
}

/** HeaderValueOption{header(1): HeaderValue{key(1), value(2)}, append(2): BoolValue, append_action(3)}. */
function headerOption(fields: ProtoField[]): HeaderMutation {
  let name = '';
  let value = '';
  let append: boolean | null = null;
  let action = 0;
  for (const f of fields) {
    if (f.field === 1)
      for (const h of msg(f)) {
        if (h.field === 1) name = str(h);
        else if (h.field === 2) value = str(h);
      }
    else if (f.field === 2) append = msg(f).some((b) => b.field === 1 && num(b) !== 0);
    else if (f.field === 3) action = num(f);
  }
  if (append !== null) return { name, value, action: append ? 'append' : 'overwrite-or-add' };
  const a = ACTIONS[action];
  if (a === undefined) throw new ProtoDecodeError(`unknown header append_action ${action}`);
  return { name, value, action: a };
}

function pair(fields: ProtoField[]): readonly [string, string] {
  let k = '';
  let v = '';
  for (const f of fields) {
    if (f.field === 1) k = str(f);
    else if (f.field === 2) v = str(f);
  }
  return [k, v];
}

/** DeniedHttpResponse{status(1): HttpStatus{code(1)}, headers(2), body(3)}. */
function httpReply(fields: ProtoField[]): HttpReply {
  let status = 0;
  const headers: HeaderMutation[] = [];
  let body = '';
  for (const d of fields) {
    if (d.field === 1) for (const s of msg(d)) if (s.field === 1) status = num(s);
    if (d.field === 2) headers.push(headerOption(msg(d)));
    if (d.field === 3) body = str(d);
  }
  return { status, headers, body };
}

/**
 * CheckResponse{status(1): google.rpc.Status{code(1), message(2)},
 * oneof http_response {denied_response(2): DeniedHttpResponse,
 * ok_response(3): {headers(2), headers_to_remove(5), response_headers_to_add(6),
 * query_parameters_to_set(7), query_parameters_to_remove(8)},
 * error_response(5): DeniedHttpResponse}}. Of the oneof, the last one on the wire wins, as
 * protobuf parsers keep it. Throws ProtoDecodeError.
 */
export function decodeCheckResponse(buf: Buffer): CheckResponse {
  let code = 0;
  let message = '';
  let denied: CheckResponse['denied'] = null;
  let ok: CheckResponse['ok'] = null;
  let error: CheckResponse['error'] = null;
  for (const f of readFields(buf)) {
    if (f.field === 1) {
      for (const s of msg(f)) {
        if (s.field === 1) code = num(s);
        else if (s.field === 2) message = str(s);
      }
    } else if (f.field === 2) {
      denied = httpReply(msg(f));
      ok = error = null;
    } else if (f.field === 5) {
      error = httpReply(msg(f));
      ok = denied = null;
    } else if (f.field === 3) {
      const headers: HeaderMutation[] = [];
      const headersToRemove: string[] = [];
      const responseHeadersToAdd: HeaderMutation[] = [];
      const queryParametersToSet: (readonly [string, string])[] = [];
      const queryParametersToRemove: string[] = [];
      for (const o of msg(f)) {
        if (o.field === 2) headers.push(headerOption(msg(o)));
        else if (o.field === 5) headersToRemove.push(str(o));
        else if (o.field === 6) responseHeadersToAdd.push(headerOption(msg(o)));
        else if (o.field === 7) queryParametersToSet.push(pair(msg(o)));
        else if (o.field === 8) queryParametersToRemove.push(str(o));
      }
      ok = { headers, headersToRemove, responseHeadersToAdd, queryParametersToSet, queryParametersToRemove };
      denied = error = null;
    }
  }
  return { code, message, denied, ok, error };
}
