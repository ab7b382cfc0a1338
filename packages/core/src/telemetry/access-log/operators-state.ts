import { compileCel } from '../cel/compile.js';
import { entryActivation } from '../cel/entry-activation.js';
import { printValue } from '../cel/print.js';
import { isError } from '../cel/values.js';
import type { PeerMetadata } from '../metadata-exchange/peer-metadata.js';
import type { AccessLogEntry } from './entry.js';
import type { OperatorResult } from './operators.js';

/**
 * The fields of Istio's peer metadata object meshlet can read from a metadata exchange
 * (envoy contrib/istio/filters/common/source/metadata_object.cc `field`): the object's
 * `getField` names. `type` (from the peer's OWNER), `region` and `availability_zone` are
 * not in what meshlet keeps of the exchange.
 */
const PEER_FIELDS: Readonly<Record<string, (m: PeerMetadata) => string>> = {
  namespace: (m) => m.namespace,
  cluster: (m) => m.cluster,
  service: (m) => m.canonicalService,
  revision: (m) => m.canonicalRevision,
  app: (m) => m.app,
  version: (m) => m.version,
  workload: (m) => m.workload,
  name: (m) => m.instance,
};

const PEERS: Readonly<Record<string, (e: AccessLogEntry) => PeerMetadata | null | undefined>> = {
  downstream_peer: (e) => e.downstreamPeer,
  upstream_peer: (e) => e.upstreamPeer,
};

/**
 * `%FILTER_STATE(KEY:F:FIELD)%` (envoy stream_info_formatter.cc FilterStateFormatter) for
 * Istio's peer objects, filled by the metadata exchange: `FIELD` prints one field
 * (`%FILTER_STATE(upstream_peer:FIELD:workload)%`), empty or absent as `-`. `PLAIN` and
 * `TYPED` serialise the whole object, with the peer's workload type, which meshlet does
 * not keep: reported.
 */
export function filterStateOperator(arg: string | null): OperatorResult {
  if (arg === null || arg === '') return { problem: 'Envoy refuses %FILTER_STATE% without a key' };
  const [key = '', format = '', field = ''] = arg.split(':');
  const peer = PEERS[key];
  if (peer === undefined) return null;
  if (format !== 'FIELD')
    return {
      problem: `meshlet does not serialise the ${key} object (it keeps no workload type); use %FILTER_STATE(${key}:FIELD:<name>)%`,
    };
  const read = PEER_FIELDS[field];
  if (read === undefined) return null;
  return (e) => {
    const m = peer(e);
    if (m === null || m === undefined) return null;
    const v = read(m);
    return v === '' ? null : v;
  };
}

/**
 * `%CEL(expression)%` (envoy source/extensions/formatter/cel/cel.cc, built in since Envoy
 * 1.34, so istiod adds no formatter for it): the expression over the access-log
 * attributes, printed as `print` does (strings as they are); an error or a missing
 * attribute prints `-`. Envoy refuses a format whose expression does not parse.
 */
export function celOperator(arg: string | null): OperatorResult {
  if (arg === null) return { problem: 'Envoy refuses %CEL% without an expression' };
  const compiled = compileCel(arg, 'accessLog');
  if (!compiled.ok) {
    const { kind, message } = compiled.problem;
    return {
      problem:
        kind === 'unsupported'
          ? `meshlet cannot evaluate %CEL(${arg})% (${message}); it prints "-"`
          : `Envoy refuses the access log format for %CEL(${arg})% (${message}); meshlet prints "-"`,
    };
  }
  const program = compiled.program;
  return (e) => {
    const v = program.evaluate(entryActivation(e));
    return isError(v) ? null : printValue(v);
  };
}
