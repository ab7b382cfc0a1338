import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { formatDiagnostic } from '../config/diagnostic.js';
import { loadConfig } from '../config/load.js';
import { compilePlan } from '../compile/compile-plan.js';
import { istiodFeaturesFromEnv } from '../compile/istiod-features.js';
import type { MeshPlan } from '../compile/plan-types.js';
import { isMeshletError } from '../errors/meshlet-error.js';
import { parseSpiffeId } from '../identity/spiffe.js';
import { lastValue, parseArgs, type OptionSpec, type ParsedArgs, usage } from './args.js';
import { EXIT } from './exit-codes.js';
import { EXPLAIN_HELP } from './explain-help.js';
import { explainInbound } from './explain-inbound.js';
import { explainGateway, explainOutbound } from './explain-outbound.js';
import { explainConnect } from './explain-connect.js';
import { renderConnect, renderInbound, renderOutbound, renderTcp } from './explain-render.js';
import { explainTcp } from './explain-tcp.js';
import { paint, type CliCommand, type CliIO } from './io.js';
import { parseWorkloadArg } from './routes.js';

const OPTIONS: readonly OptionSpec[] = [
  { name: 'workload', short: 'w', value: true },
  { name: 'service-account', value: true },
  { name: 'request', value: true },
  { name: 'inbound', value: true },
  { name: 'gateway', value: true },
  { name: 'connect', value: true },
  { name: 'tcp', value: true },
  { name: 'sni', value: true },
  { name: 'header', short: 'H', value: true },
  { name: 'peer', value: true },
  { name: 'token', value: true },
  { name: 'source-ip', value: true },
  { name: 'port', value: true },
  { name: 'output', short: 'o', value: true },
  { name: 'help', short: 'h', value: false },
];

/** The options that ask the question, and what each asks about. */
const DIRECTIONS = [
  ['request', 'outbound'],
  ['inbound', 'inbound'],
  ['gateway', 'gateway'],
  ['connect', 'connect'],
  ['tcp', 'tcp'],
] as const;

/** `"GET http://x/"` → method and target; a bare target means GET. */
function requestLine(text: string, option: string): { method: string; target: string } {
  const parts = text.trim().split(/\s+/);
  if (parts.length === 1 && parts[0] !== '') return { method: 'GET', target: parts[0] as string };
  if (parts.length !== 2)
    throw usage(`--${option} must look like "<METHOD> <target>", got ${JSON.stringify(text)}`);
  return { method: parts[0] as string, target: parts[1] as string };
}

function headersOf(args: ParsedArgs): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const h of args.options.get('header') ?? []) {
    const colon = h.indexOf(':');
    if (colon <= 0) throw usage(`-H must look like "name: value", got ${JSON.stringify(h)}`);
    const name = h.slice(0, colon).trim().toLowerCase();
    const value = h.slice(colon + 1).trim();
    const prev = out[name];
    out[name] = prev === undefined ? value : [...(typeof prev === 'string' ? [prev] : prev), value];
  }
  return out;
}

/** `--token`: a JWT, or a file that holds one. */
function tokenOf(value: string | undefined, cwd: string): string | null {
  if (value === undefined) return null;
  const file = path.resolve(cwd, value);
  if (!/^[\w-]+\.[\w-]*\.[\w-]*$/.test(value) && existsSync(file) && statSync(file).isFile())
    return readFileSync(file, 'utf8').trim();
  return value.trim();
}

interface Parsed {
  readonly args: ParsedArgs;
  readonly sources: readonly string[];
  readonly json: boolean;
  readonly direction: (typeof DIRECTIONS)[number][1];
  readonly line: { method: string; target: string };
}

function parse(argv: readonly string[]): Parsed | 'help' {
  const args = parseArgs(argv, OPTIONS);
  if (args.options.has('help')) return 'help';
  const output = lastValue(args, 'output') ?? '';
  if (output !== '' && output !== 'json')
    throw usage(`unsupported output format ${JSON.stringify(output)} (use "json")`);
  if (lastValue(args, 'workload') === undefined) throw usage('--workload <ns>/<name>[:labels] is required');
  // Which question is asked: the one option of these that is given.
  const asked = DIRECTIONS.filter(([option]) => lastValue(args, option) !== undefined);
  if (asked.length !== 1)
    throw usage(
      'give exactly one of --request "<METHOD> <url>" (outbound), --inbound "<METHOD> <path>", --gateway "<METHOD> <url>", --connect <host>:<port> or --tcp <port> (an inbound TCP connection)',
    );
  const [option, direction] = asked[0] as (typeof DIRECTIONS)[number];
  const text = lastValue(args, option) as string;
  if (direction === 'tcp' && !/^\d+$/.test(text))
    throw usage(
      `--tcp must be the workload port a TCP connection arrives on, e.g. 9000, got ${JSON.stringify(text)}`,
    );
  if (direction === 'connect' && !/^[^\s:]+:\d+$/.test(text))
    throw usage(`--connect must look like <host>:<port>, e.g. mongodb:27017, got ${JSON.stringify(text)}`);
  if (args.positionals.length === 0) throw usage('give at least one file or directory of Istio YAML');
  const peer = lastValue(args, 'peer');
  if (peer !== undefined && parseSpiffeId(peer) === null)
    throw usage(`--peer must be a SPIFFE ID such as spiffe://cluster.local/ns/default/sa/sleep, got ${peer}`);
  const port = lastValue(args, 'port');
  if (port !== undefined && !/^\d+$/.test(port)) throw usage(`--port must be a number, got ${port}`);
  return {
    args,
    sources: args.positionals,
    json: output === 'json',
    direction,
    line:
      direction === 'tcp'
        ? { method: 'TCP', target: text }
        : direction === 'connect'
          ? { method: 'CONNECT', target: text }
          : requestLine(text, option),
  };
}

async function planFor(p: Parsed, io: CliIO): Promise<MeshPlan | number> {
  const workload = parseWorkloadArg(
    lastValue(p.args, 'workload') ?? '',
    lastValue(p.args, 'service-account'),
  );
  const snapshot = await loadConfig(p.sources, { cwd: io.cwd });
  const errors = snapshot.diagnostics.filter((d) => d.level === 'Error');
  if (errors.length > 0) {
    for (const d of errors) io.stderr(`${paint(io, 'red', 'Error')} ${formatDiagnostic(d)}\n`);
    io.stderr(`\nThe configuration has errors; fix them first (meshlet analyze shows every finding).\n`);
    return EXIT.dataError;
  }
  try {
    return compilePlan(snapshot, workload, {
      istiodFeatures: istiodFeaturesFromEnv(process.env),
      proxyEnv: process.env,
    });
  } catch (err) {
    if (isMeshletError(err) && err.code === 'MESHLET_ERR_CONFIG_WORKLOAD') {
      io.stderr(`Error: ${err.message}\n`);
      return EXIT.usage;
    }
    throw err;
  }
}

/**
 * `meshlet explain`: the "why did this request go there / why was it denied?" tool.
 * Outbound: virtual host, route (and why earlier ones failed), destinations, cluster
 * policy, timeout, retries, fault. Inbound: mTLS mode, normalization, JWT, and the
 * authorization decision with the deciding policy and rule, from the real engine.
 */
export const runExplain: CliCommand = async (argv, io) => {
  let p: Parsed;
  let headers: Record<string, string | string[]>;
  try {
    const parsed = parse(argv);
    if (parsed === 'help') {
      io.stdout(EXPLAIN_HELP);
      return EXIT.ok;
    }
    p = parsed;
    headers = headersOf(p.args);
  } catch (err) {
    if (!isMeshletError(err)) throw err;
    io.stderr(`Error: ${err.message}\n\n${EXPLAIN_HELP}`);
    return EXIT.usage;
  }
  const plan = await planFor(p, io);
  if (typeof plan === 'number') return plan;
  const print = (value: unknown, text: string) =>
    io.stdout(p.json ? `${JSON.stringify(value, null, 2)}\n` : text);
  const port = lastValue(p.args, 'port');
  if (p.direction === 'connect') {
    const colon = p.line.target.lastIndexOf(':');
    const e = explainConnect(
      plan,
      p.line.target.slice(0, colon),
      Number(p.line.target.slice(colon + 1)),
      lastValue(p.args, 'sni'),
    );
    print(e, renderConnect(e, io));
    return EXIT.ok;
  }
  if (p.direction === 'tcp') {
    const e = explainTcp(plan, {
      port: Number(p.line.target),
      peer: lastValue(p.args, 'peer') ?? null,
      sourceIp: lastValue(p.args, 'source-ip') ?? '127.0.0.1',
      sni: lastValue(p.args, 'sni') ?? null,
    });
    print(e, renderTcp(e, io));
    return EXIT.ok;
  }
  if (p.direction !== 'inbound') {
    let e;
    try {
      const input = { method: p.line.method, url: p.line.target, headers };
      e =
        p.direction === 'outbound'
          ? explainOutbound(plan, input)
          : explainGateway(plan, {
              ...input,
              port: port === undefined ? undefined : Number(port),
              sni: lastValue(p.args, 'sni'),
            });
    } catch (err) {
      if (!isMeshletError(err)) throw err;
      io.stderr(`Error: --${p.direction === 'outbound' ? 'request' : 'gateway'}: ${err.message}\n`);
      return EXIT.usage;
    }
    print(e, renderOutbound(e, io));
    return EXIT.ok;
  }
  const e = await explainInbound(plan, {
    method: p.line.method,
    target: p.line.target,
    headers,
    peer: lastValue(p.args, 'peer') ?? null,
    token: tokenOf(lastValue(p.args, 'token'), io.cwd),
    sourceIp: lastValue(p.args, 'source-ip') ?? '127.0.0.1',
    port: port === undefined ? null : Number(port),
  });
  print(e, renderInbound(e, io));
  return EXIT.ok;
};
