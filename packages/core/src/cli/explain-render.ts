import { paint, type CliIO } from './io.js';
import type { PolicyCheck } from './explain-authz.js';
import type { InboundExplanation } from './explain-inbound.js';
import type { ConnectExplanation } from './explain-connect.js';
import type { TcpExplanation } from './explain-tcp.js';
import type { OutboundExplanation } from './explain-outbound.js';

const label = (io: CliIO, name: string): string => paint(io, 'bold', name.padEnd(14));

/** `meshlet explain --request` as text: one screen, the answer first. */
export function renderOutbound(e: OutboundExplanation, io: CliIO): string {
  const out: string[] = [];
  const r = e.request;
  out.push(
    e.gatewayPort === undefined
      ? `${label(io, 'Request')}${r.method} ${r.url} from ${e.workload}`
      : `${label(io, 'Request')}${r.method} ${r.url} at ${e.workload}, Gateway port ${e.gatewayPort}`,
  );
  if (e.gatewayTls !== undefined)
    out.push(
      `${label(io, 'TLS')}SNI ${e.gatewayTls.sni ?? '(none)'}: ${e.gatewayTls.routeName === null ? 'no server takes it' : `server route configuration ${e.gatewayTls.routeName}`}`,
    );
  out.push(`${label(io, 'Result')}${paint(io, e.route === null ? 'yellow' : 'green', e.outcome)}`);
  if (e.virtualHost === null) {
    out.push(`${label(io, 'Virtual host')}none for ${r.authority} on port ${r.port}`);
    return `${out.join('\n')}\n`;
  }
  out.push(
    `${label(io, 'Virtual host')}${e.virtualHost.name} (${e.virtualHost.virtualService === null ? 'Istio default route, no VirtualService' : `VirtualService ${e.virtualHost.virtualService}`})`,
  );
  for (const c of e.routes) {
    if (c.matched) {
      out.push(`${label(io, 'Route')}${paint(io, 'cyan', c.id)} matched: ${e.route?.matchedBy ?? ''}`);
      continue;
    }
    out.push(`${label(io, 'Skipped')}${c.id}: no match`);
    c.matches.forEach((m, i) => {
      const which = c.matches.length > 1 ? `match[${i}] ` : '';
      out.push(`${''.padEnd(16)}${which}failed: ${m.failed.join(' AND ')}`);
    });
  }
  if (e.route === null) return `${out.join('\n')}\n`;
  out.push(...destinationLines(e.destinations, io));
  out.push(`${label(io, 'Timeout')}${e.timeout}`);
  out.push(`${label(io, 'Retries')}${e.retries}`);
  out.push(`${label(io, 'Fault')}${e.fault === 'none' ? e.fault : paint(io, 'yellow', e.fault)}`);
  if (e.cors !== null) out.push(`${label(io, 'CORS')}${e.cors}`);
  if (e.mirrors.length > 0) out.push(`${label(io, 'Mirror')}${e.mirrors.join(', ')}`);
  if (e.rewrite !== null) out.push(`${label(io, 'Rewrite')}${e.rewrite}`);
  return `${out.join('\n')}\n`;
}

function policyLines(p: PolicyCheck, io: CliIO): string[] {
  const tag = `${p.action}${p.dryRun ? ' (dry-run)' : ''} ${p.policy}`;
  if (p.rules === null) return [`  ${tag}: no rules, matches nothing`];
  if (p.matchedRule >= 0) return [`  ${paint(io, 'cyan', tag)}: rule[${p.matchedRule}] matched`];
  const lines = [`  ${tag}: no rule matched`];
  for (const r of p.rules) lines.push(`    rule[${r.index}]: ${r.failed.join('; ')}`);
  return lines;
}

/** The HTTP-only fields a TCP chain dropped from a policy's rules (DENY, AUDIT, CUSTOM). */
function droppedLines(p: PolicyCheck): string[] {
  return (p.rules ?? [])
    .filter((r) => r.dropped !== undefined)
    .map((r) => `    rule[${r.index}] on TCP without ${(r.dropped ?? []).join(', ')} (HTTP only)`);
}

/** Each weighted destination: its share, subset, cluster and endpoints, then its policy. */
function destinationLines(dests: OutboundExplanation['destinations'], io: CliIO): string[] {
  const out: string[] = [];
  for (const d of dests) {
    const share = dests.length > 1 ? `${d.weight}% ` : '';
    const subset =
      d.subset === null ? '' : ` subset ${d.subset} ${JSON.stringify(d.subsetLabels).replace(/"/g, '')}`;
    out.push(
      `${label(io, 'Destination')}${share}${d.host}:${d.port}${subset} → ${d.cluster} (${d.endpoints} endpoint${d.endpoints === 1 ? '' : 's'}${d.status === 'ok' ? '' : `, ${paint(io, 'red', `503 NC: ${d.status}`)}`})`,
    );
    if (d.policy !== null) {
      const dr =
        d.destinationRules.length === 0
          ? 'no DestinationRule'
          : `DestinationRule ${d.destinationRules.join(', ')}`;
      out.push(`${''.padEnd(16)}${dr}; LB ${d.policy.loadBalancer}; pool ${d.policy.connectionPool}`);
      out.push(`${''.padEnd(16)}outlier detection ${d.policy.outlierDetection}; TLS ${d.policy.tls}`);
    }
  }
  return out;
}

/** `meshlet explain --connect` as text: the outcome, the tcp route, then each destination. */
export function renderConnect(e: ConnectExplanation, io: CliIO): string {
  const out = [
    `${label(io, 'Connection')}tcp ${e.target.host}:${e.target.port} from ${e.workload}${e.sni === undefined ? '' : `, SNI ${e.sni ?? '(none)'}`}`,
    `${label(io, 'Result')}${paint(io, e.outcome.startsWith('refused') ? 'yellow' : 'green', e.outcome)}`,
  ];
  if (e.route !== null)
    out.push(
      `${label(io, `${e.route.kind.toUpperCase()} route`)}${e.route.id === null ? `default cluster (no VirtualService ${e.route.kind} route)` : `${paint(io, 'cyan', e.route.id)} (VirtualService ${e.route.virtualService ?? ''})`}`,
    );
  out.push(...destinationLines(e.destinations, io));
  return `${out.join('\n')}\n`;
}

/** `meshlet explain --tcp` as text: the verdict, the mTLS mode, then each policy as TCP has it. */
export function renderTcp(e: TcpExplanation, io: CliIO): string {
  const c = e.connection;
  const who = c.peer === null ? 'a caller without mTLS' : c.peer;
  const sni = c.sni === null ? '' : ` (SNI ${c.sni})`;
  const out = [
    `${label(io, 'Connection')}tcp to ${e.workload} port ${c.port} from ${who} (${c.sourceIp})${sni}`,
    `${label(io, 'Verdict')}${paint(io, e.decision.allow ? 'green' : 'red', e.verdict)}`,
  ];
  if (e.decision.terminationDetails !== null)
    out.push(`${label(io, 'Access log')}${e.decision.terminationDetails}`);
  const pa = e.peerAuthentication;
  out.push(`${label(io, 'mTLS')}${pa.mode} from ${pa.decidedBy}: ${pa.note}`);
  const a = e.authorization;
  const all = [...a.custom, ...a.deny, ...a.allow, ...a.audit];
  if (all.length === 0) out.push(`${label(io, 'Authorization')}no AuthorizationPolicy selects this workload`);
  else {
    out.push(
      `${label(io, 'Authorization')}as a TCP chain has it (HTTP-only fields: ALLOW rule left out, DENY/AUDIT field dropped):`,
    );
    for (const p of all) out.push(...policyLines(p, io), ...droppedLines(p));
    for (const note of e.custom) out.push(`  ${note}`);
  }
  if (e.decision.shadow.length > 0) out.push(`${label(io, 'Shadow')}${e.decision.shadow.join('; ')}`);
  return `${out.join('\n')}\n`;
}

/** `meshlet explain --inbound` as text: the verdict first, then each stage. */
export function renderInbound(e: InboundExplanation, io: CliIO): string {
  const out: string[] = [];
  const r = e.request;
  const who = r.peer === null ? 'a caller without mTLS' : r.peer;
  out.push(
    `${label(io, 'Request')}${r.method} ${r.url} to ${e.workload} port ${r.port} from ${who} (${r.sourceIp})`,
  );
  const bad = !e.peerAuthentication.accepted || !e.decision.allow;
  out.push(`${label(io, 'Verdict')}${paint(io, bad ? 'red' : 'green', e.verdict)}`);
  if (!e.decision.allow && !['allow', 'deny', 'jwt'].includes(e.decision.stage))
    out.push(`${''.padEnd(14)}${e.decision.detail}`);
  if (e.decision.accessLog !== null) out.push(`${label(io, 'Access log')}${e.decision.accessLog}`);
  const pa = e.peerAuthentication;
  out.push(`${label(io, 'mTLS')}${pa.mode} from ${pa.decidedBy}: ${pa.note}`);
  out.push(
    `${label(io, 'Path')}${e.normalization.ok ? `${e.normalization.path} (${e.normalization.detail})` : `rejected 400: ${e.normalization.detail}`}`,
  );
  const ra = e.requestAuthentication;
  const raBy = ra.policies.length === 0 ? '' : ` [${ra.policies.join(', ')}]`;
  out.push(`${label(io, 'JWT')}${ra.outcome}: ${ra.detail}${raBy}`);
  const a = e.authorization;
  const all = [...a.custom, ...a.deny, ...a.allow, ...a.audit];
  if (all.length === 0) out.push(`${label(io, 'Authorization')}no AuthorizationPolicy selects this workload`);
  else {
    out.push(
      `${label(io, 'Authorization')}CUSTOM (before the JWT check), then DENY, then ALLOW (AUDIT only logs):`,
    );
    for (const p of all) out.push(...policyLines(p, io));
    if (e.customProvider !== null) out.push(`  provider ${e.customProvider}`);
    if (a.custom.some((p) => p.matchedRule >= 0))
      out.push('  (CUSTOM providers are not called by explain; it assumed they allow)');
  }
  for (const line of e.rateLimits) out.push(`${label(io, 'Rate limit')}${line}`);
  if (e.decision.shadow.length > 0) out.push(`${label(io, 'Shadow')}${e.decision.shadow.join('; ')}`);
  for (const line of e.decision.rbacMetadata) out.push(`${label(io, 'RBAC metadata')}${line}`);
  return `${out.join('\n')}\n`;
}
