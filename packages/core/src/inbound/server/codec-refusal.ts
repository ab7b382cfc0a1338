/**
 * What Envoy's HTTP/1 codec answers a request it cannot parse (envoy
 * source/common/http/http1/codec_impl.cc: dispatchSlice, onHeaderValueImpl,
 * checkMaxHeadersSize, onHeadersCompleteImpl): a local reply through the connection manager,
 * with the details the access log's `%RESPONSE_CODE_DETAILS%` prints and flag `DPE`, after which
 * the connection is closed.
 */
export interface CodecRefusal {
  readonly status: 400 | 431 | 501;
  /** Envoy's Http1ResponseCodeDetails value. */
  readonly details: string;
  /** The reply's body: CodeUtility::toString(status). */
  readonly body: string;
}

const BAD_REQUEST = 'Bad Request';

const refusal = (status: CodecRefusal['status'], details: string, body = BAD_REQUEST): CodecRefusal =>
  Object.freeze({ status, details, body });

const CODEC_ERROR = refusal(400, 'http1.codec_error');
const INVALID_CHARACTERS = refusal(400, 'http1.invalid_characters');
const CHUNKED_CONTENT_LENGTH = refusal(400, 'http1.content_length_and_chunked_not_allowed');
const HEADERS_TOO_LARGE = refusal(431, 'http1.headers_too_large', 'Request Header Fields Too Large');
/** Any transfer coding but `chunked` (RFC 7230 §3.3.1): 501, not 400. */
const INVALID_TRANSFER_ENCODING = refusal(501, 'http1.invalid_transfer_encoding', 'Not Implemented');

/** The parts of node's parse error (`clientError`) that say what went wrong. */
export interface ParseError {
  readonly code?: string | undefined;
  readonly reason?: string | undefined;
}

/**
 * The reply Envoy's codec gives the request node's HTTP parser (llhttp) refused with `err`, or
 * null when the error is not the codec's (node's request and header timeouts). The two parsers
 * refuse nearly the same requests; where Envoy names a reason, so does this: header block too
 * large (past Envoy's 60 KiB, the engine's own check, normalize/header-size.ts, refuses what
 * node still reads on the servers meshlet makes, whose limit is 64 KiB), an
 * invalid character in a header value, `Content-Length` beside `Transfer-Encoding`, a transfer
 * coding other than `chunked`. Everything else is `http1.codec_error`.
 */
export function codecRefusalOf(err: ParseError): CodecRefusal | null {
  switch (err.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return null;
    case 'HPE_HEADER_OVERFLOW':
      return HEADERS_TOO_LARGE;
    case 'HPE_INVALID_HEADER_TOKEN':
      // llhttp uses one code for a header name and a header value; Envoy names the value's.
      return /value/i.test(err.reason ?? '') ? INVALID_CHARACTERS : CODEC_ERROR;
    case 'HPE_INVALID_TRANSFER_ENCODING':
      return INVALID_TRANSFER_ENCODING;
    case 'HPE_INVALID_CONTENT_LENGTH':
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
      return /transfer-encoding/i.test(err.reason ?? '') ? CHUNKED_CONTENT_LENGTH : CODEC_ERROR;
    default:
      return CODEC_ERROR;
  }
}

/** The status line's reason phrase for a codec refusal's status. */
const REASON: Readonly<Record<CodecRefusal['status'], string>> = {
  400: 'Bad Request',
  431: 'Request Header Fields Too Large',
  501: 'Not Implemented',
};

/** What goes into a local reply's header block besides its status. */
export interface LocalReplyHead {
  /** The `server` header (proxyHeaders.server), null for none. */
  readonly server: string | null;
  /** The `date` header's value (an HTTP date). */
  readonly date: string;
  /** A HEAD request's reply carries the headers and no body. */
  readonly head: boolean;
}

/** A local reply as written on the connection. */
export interface LocalReply {
  readonly text: string;
  /** Its headers, lower-case names, in the order written. */
  readonly headers: Readonly<Record<string, string>>;
  /** The status line and header block, in bytes. */
  readonly headerBytes: number;
  readonly bodyBytes: number;
}

/**
 * A codec refusal's local reply, as Envoy encodes it on HTTP/1: the body with its
 * `content-length` and `content-type: text/plain` (http/utility.cc sendLocalReply), then the
 * connection manager's `date` and `server`, and `connection: close` for a 400 only
 * (conn_manager_impl.cc ActiveStream::sendLocalReply: a bad request is a messaging error); the
 * connection closes after any of them. A `server` value that could end the header line is not
 * written.
 */
export function localReplyOf(r: CodecRefusal, head: LocalReplyHead): LocalReply {
  const headers: Record<string, string> = {
    'content-length': String(Buffer.byteLength(r.body)),
    'content-type': 'text/plain',
    date: head.date,
  };
  if (head.server !== null && !/[\r\n\0]/.test(head.server)) headers['server'] = head.server;
  if (r.status === 400) headers['connection'] = 'close';
  let block = `HTTP/1.1 ${r.status} ${REASON[r.status]}\r\n`;
  for (const name in headers) block += `${name}: ${headers[name]}\r\n`;
  block += '\r\n';
  const body = head.head ? '' : r.body;
  return {
    text: block + body,
    headers,
    headerBytes: Buffer.byteLength(block),
    bodyBytes: Buffer.byteLength(body),
  };
}
