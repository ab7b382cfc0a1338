import { formatDiagnostic } from '../config/diagnostic.js';
import { loadConfig } from '../config/load.js';
import { compilePlan } from '../compile/compile-plan.js';
import { istiodFeaturesFromEnv } from '../compile/istiod-features.js';
import type { WorkloadIdentity } from '../compile/workload.js';
import { isMeshletError } from '../errors/meshlet-error.js';
import { hasFlag, lastValue, parseArgs, type OptionSpec, usage } from './args.js';
import { EXIT } from './exit-codes.js';
import { paint, type CliCommand } from './io.js';
import { ROUTES_HELP } from './routes-help.js';
import { renderRoutesTable } from './routes-table.js';
import { routesView } from './routes-view.js';

const OPTIONS: readonly OptionSpec[] = [
  { name: 'workload', short: 'w', value: true },
  { name: 'service-account', value: true },
  { name: 'output', short: 'o', value: true },
  { name: 'help', short: 'h', value: false },
];

/** `<ns>/<name>[:k=v,k=v]` → workload identity. */
export function parseWorkloadArg(text: string, serviceAccount: string | undefined): WorkloadIdentity {
  const colon = text.indexOf(':');
  const ref = colon < 0 ? text : text.slice(0, colon);
  const slash = ref.indexOf('/');
  const namespace = ref.slice(0, slash);
  const name = ref.slice(slash + 1);
  if (slash <= 0 || name === '' || name.includes('/')) {
    throw usage(`--workload must look like <namespace>/<name>[:key=value,...], got ${JSON.stringify(text)}`);
  }
  const labels: Record<string, string> = {};
  if (colon >= 0) {
    for (const pair of text.slice(colon + 1).split(',')) {
      if (pair === '') continue;
      const eq = pair.indexOf('=');
      if (eq <= 0) throw usage(`--workload label ${JSON.stringify(pair)} must look like key=value`);
      labels[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  }
  return { namespace, name, serviceAccount: serviceAccount ?? 'default', labels };
}

/**
 * `meshlet routes <files|dirs> --workload <ns>/<name>[:labels]`: the effective
 * outbound route table of that workload, like `istioctl proxy-config routes`.
 * Exit 64 on usage errors, 65 when the configuration has errors.
 */
export const runRoutes: CliCommand = async (argv, io) => {
  let workload: WorkloadIdentity;
  let sources: readonly string[];
  let json: boolean;
  try {
    const args = parseArgs(argv, OPTIONS);
    if (hasFlag(args, 'help')) {
      io.stdout(ROUTES_HELP);
      return EXIT.ok;
    }
    const output = lastValue(args, 'output') ?? '';
    if (output !== '' && output !== 'json')
      throw usage(`unsupported output format ${JSON.stringify(output)} (use "json")`);
    json = output === 'json';
    const w = lastValue(args, 'workload');
    if (w === undefined) throw usage('--workload <ns>/<name>[:labels] is required');
    workload = parseWorkloadArg(w, lastValue(args, 'service-account'));
    sources = args.positionals;
    if (sources.length === 0) throw usage('give at least one file or directory of Istio YAML');
  } catch (err) {
    if (!isMeshletError(err)) throw err;
    io.stderr(`Error: ${err.message}\n\n${ROUTES_HELP}`);
    return EXIT.usage;
  }
  const snapshot = await loadConfig(sources, { cwd: io.cwd });
  const errors = snapshot.diagnostics.filter((d) => d.level === 'Error');
  if (errors.length > 0) {
    for (const d of errors) io.stderr(`${paint(io, 'red', 'Error')} ${formatDiagnostic(d)}\n`);
    io.stderr(
      `\nThe configuration has ${errors.length} error${errors.length === 1 ? '' : 's'}; fix ${errors.length === 1 ? 'it' : 'them'} first (meshlet analyze shows every finding).\n`,
    );
    return EXIT.dataError;
  }
  let plan;
  try {
    plan = compilePlan(snapshot, workload, {
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
  const view = routesView(plan);
  io.stdout(json ? `${JSON.stringify(view, null, 2)}\n` : renderRoutesTable(view, io));
  return EXIT.ok;
};
