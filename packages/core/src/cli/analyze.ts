import { analyze } from '../analyze/analyze.js';
import { ANALYZERS } from '../analyze/analyzers.js';
import { inputProblems } from '../analyze/loader-findings.js';
import type { AnalysisMessage } from '../analyze/message.js';
import { isKnownCode } from '../analyze/message-types.js';
import type { Suppression } from '../analyze/suppress.js';
import type { DiagnosticLevel } from '../config/diagnostic.js';
import { DIAGNOSTIC_CODES } from '../config/diagnostic-codes.js';
import { formatDiagnostic } from '../config/diagnostic.js';
import { loadConfig } from '../config/load.js';
import { MeshletError } from '../errors/meshlet-error.js';
import { formatMessages, type OutputFormat } from './analysis-output.js';
import { hasFlag, lastValue, parseArgs, type OptionSpec, type ParsedArgs, usage } from './args.js';
import { EXIT } from './exit-codes.js';
import { ANALYZE_HELP } from './help.js';
import type { CliCommand, CliIO } from './io.js';

const SPECS: readonly OptionSpec[] = [
  { name: 'output', short: 'o', value: true },
  { name: 'failure-threshold', value: true },
  { name: 'output-threshold', value: true },
  { name: 'suppress', short: 'S', value: true },
  { name: 'namespace', short: 'n', value: true },
  { name: 'all-namespaces', short: 'A', value: false },
  { name: 'analyzer', value: true },
  { name: 'list-analyzers', short: 'L', value: false },
  { name: 'ignore-unknown', value: false },
  { name: 'color', value: false },
  { name: 'use-kube', short: 'k', value: false },
  { name: 'help', short: 'h', value: false },
];

const LEVELS: Readonly<Record<string, DiagnosticLevel>> = {
  ERROR: 'Error',
  WARNING: 'Warning',
  INFO: 'Info',
};
const RANK: Readonly<Record<DiagnosticLevel, number>> = { Error: 0, Warning: 1, Info: 2 };
const atLeast = (level: DiagnosticLevel, threshold: DiagnosticLevel): boolean =>
  RANK[level] <= RANK[threshold];

const CONFIG_ANALYSIS_URL = 'https://istio.io/latest/docs/reference/config/analysis';

function level(args: ParsedArgs, name: string, fallback: DiagnosticLevel): DiagnosticLevel {
  const raw = lastValue(args, name);
  if (raw === undefined) return fallback;
  const l = LEVELS[raw.toUpperCase()];
  if (l === undefined)
    throw usage(
      `invalid level option ${JSON.stringify(raw)} for --${name}; valid values: Info, Warning, Error`,
    );
  return l;
}

function format(args: ParsedArgs): OutputFormat {
  const raw = (lastValue(args, 'output') ?? 'log').toLowerCase();
  if (raw !== 'log' && raw !== 'json' && raw !== 'yaml') {
    throw usage(`${raw} not a valid option for format. See meshlet analyze --help`);
  }
  return raw;
}

function suppressions(args: ParsedArgs, io: CliIO): Suppression[] {
  return (args.options.get('suppress') ?? []).map((s) => {
    const parts = s.split('=');
    if (parts.length !== 2 || parts[0] === undefined || parts[1] === undefined) {
      throw usage(`${s} is not a valid suppression value. See meshlet analyze --help`);
    }
    if (!isKnownCode(parts[0])) {
      io.stderr(
        `Warning: Supplied message code '${parts[0]}' is an unknown message code and will not have any effect.\n`,
      );
    }
    return { code: parts[0], resource: parts[1] };
  });
}

function listAnalyzers(): string {
  return [...ANALYZERS]
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .map((a) => `* ${a.name}:\n    ${a.description}\n`)
    .join('');
}

function cleanRun(files: readonly string[]): string {
  if (files.length === 1) return `\u2714 No validation issues found when analyzing ${files[0] ?? ''}.\n`;
  return `\u2714 No validation issues found when analyzing:\n  - ${files.join('\n  - ')}\n`;
}

async function run(argv: readonly string[], io: CliIO): Promise<number> {
  const args = parseArgs(argv, SPECS);
  if (hasFlag(args, 'help')) {
    io.stdout(ANALYZE_HELP);
    return EXIT.ok;
  }
  const fmt = format(args);
  if (hasFlag(args, 'list-analyzers')) {
    io.stdout(listAnalyzers());
    return EXIT.ok;
  }
  const failureThreshold = level(args, 'failure-threshold', 'Error');
  const outputThreshold = level(args, 'output-threshold', 'Info');
  const suppress = suppressions(args, io);
  const selected = args.options.get('analyzer');
  for (const name of selected ?? []) {
    if (!ANALYZERS.some((a) => a.name === name))
      throw usage(`unknown analyzer ${JSON.stringify(name)}; see meshlet analyze -L`);
  }
  if (args.positionals.length === 0) {
    throw usage(
      'no files to analyze: meshlet analyzes files and directories only (there is no live cluster to read)',
    );
  }
  const allNamespaces = hasFlag(args, 'all-namespaces');
  const namespace = lastValue(args, 'namespace') ?? 'default';
  const color = args.options.has('color') ? hasFlag(args, 'color') : io.color;

  const snapshot = await loadConfig(args.positionals, { defaultNamespace: namespace, cwd: io.cwd });
  const problems = inputProblems(snapshot);
  if (problems.length > 0) {
    io.stderr(
      `Error(s) adding files: ${problems.length} error${problems.length === 1 ? '' : 's'} occurred:\n`,
    );
    for (const p of problems) io.stderr(`\t* ${formatDiagnostic(p)}\n`);
  }
  const unreadable = problems.some((p) => p.code === DIAGNOSTIC_CODES.source);

  let messages: readonly AnalysisMessage[] = analyze(snapshot, {
    suppress,
    ...(selected === undefined ? {} : { analyzers: selected }),
  });
  // istioctl reports only on the selected namespace unless -A; messages without a resource,
  // and those on cluster-scoped resources (a Namespace), are kept (istiod_analyze.go filterMessages).
  if (!allNamespaces)
    messages = messages.filter(
      (m) => m.resource === undefined || m.resource.namespace === '' || m.resource.namespace === namespace,
    );
  const shown = messages.filter((m) => atLeast(m.level, outputThreshold));
  io.stdout(`${formatMessages(shown, fmt, color)}\n`);

  const target = allNamespaces ? 'all namespaces' : `namespace: ${namespace}`;
  if (shown.length === 0) {
    if (problems.length === 0)
      io.stderr(cleanRun(snapshot.files.length > 0 ? snapshot.files : args.positionals));
    else {
      const n = problems.length;
      io.stderr(
        `No validation issues found when analyzing ${target} (but ${n} ${n === 1 ? 'file' : 'files'} could not be parsed).\n`,
      );
    }
  }
  // A source that cannot be read at all fails in every format (istioctl stops before analysing).
  if (unreadable && !hasFlag(args, 'ignore-unknown')) return EXIT.dataError;
  // Like istioctl, the exit code reflects findings only for log output.
  if (fmt !== 'log') return EXIT.ok;
  if (messages.some((m) => atLeast(m.level, failureThreshold))) {
    io.stderr(
      `Error: Analyzers found issues when analyzing ${target}.\nSee ${CONFIG_ANALYSIS_URL} for more information about causes and resolutions.\n`,
    );
    return EXIT.analysisIssues;
  }
  if (problems.length > 0 && !hasFlag(args, 'ignore-unknown')) {
    io.stderr("Error: Some files couldn't be parsed.\n");
    return EXIT.dataError;
  }
  return EXIT.ok;
}

/**
 * `meshlet analyze <files|dirs>`: istioctl analyze over files, with its output
 * formats, thresholds, suppressions and exit codes (istioctl/pkg/analyze/analyze.go).
 */
export const runAnalyze: CliCommand = async (argv, io) => {
  try {
    return await run(argv, io);
  } catch (err) {
    if (err instanceof MeshletError && err.code === 'MESHLET_ERR_CLI_USAGE') {
      io.stderr(`Error: ${err.message}\nRun 'meshlet analyze --help' for usage.\n`);
      return EXIT.usage;
    }
    throw err;
  }
};
