import type { Readable } from 'node:stream';

/** When an inbound request's last byte arrived and its response began, in ms after its start. */
export interface InboundTiming {
  lastRequestByte: number | null;
  responseStart: number | null;
}

interface Response {
  writeHead: (...args: never[]) => unknown;
}

/**
 * Notes, for an access log that prints durations (`%REQUEST_DURATION%`,
 * `%RESPONSE_DURATION%`...), when the request's body was fully received (its stream pushed
 * its end, read or not) and when the application began its response (the first
 * `writeHead`, which node also calls for implicit headers): Envoy's
 * lastDownstreamRxByteReceived and firstUpstreamRxByteReceived, the application being
 * the upstream. Only made when such a log is configured; nothing is copied or buffered.
 */
export function watchInboundTiming(req: Readable, res: Response, elapsed: () => number): void {
  const timing: InboundTiming = { lastRequestByte: null, responseStart: null };
  TIMINGS.set(req, timing);
  if (req.readableEnded || (req as { complete?: boolean }).complete === true)
    timing.lastRequestByte = elapsed();
  else {
    // eslint-disable-next-line @typescript-eslint/unbound-method -- called below with the stream as `this`
    const push = req.push;
    req.push = function timedPush(this: Readable, chunk: unknown, encoding?: BufferEncoding): boolean {
      if (chunk === null && timing.lastRequestByte === null) timing.lastRequestByte = elapsed();
      return push.call(this, chunk, encoding);
    };
  }
  const writeHead = res.writeHead;
  res.writeHead = function timedWriteHead(this: Response, ...args: never[]): unknown {
    if (timing.responseStart === null) timing.responseStart = elapsed();
    return writeHead.apply(this, args);
  };
}

/** Kept beside the request, not on the observer, so a request without such a log carries nothing. */
const TIMINGS = new WeakMap<object, InboundTiming>();

/** What {@link watchInboundTiming} noted for `req`, or null when it was not watched. */
export function inboundTimingOf(req: object): InboundTiming | null {
  return TIMINGS.get(req) ?? null;
}
