// One server of bench/tcp-inbound.js: a line echo on a loopback port, bare or under meshlet.
//   node bench/tcp-inbound-server.js bare|mesh|mesh-authz    (prints `listening <port>`)
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { builtCore } from './support.js';

const mode = process.argv[2];

/** Answers each line with itself and ends when the client does, as Istio's tcp-echo does. */
function echo(socket) {
  socket.on('data', (d) => socket.write(d));
  socket.on('end', () => socket.end());
  socket.on('error', () => socket.destroy());
}

/** A Service for the echo on `port`, and ten ALLOW policies of which the last admits it. */
function config(port, policies) {
  const service = `apiVersion: v1
kind: Service
metadata: { name: tcp-echo, namespace: foo }
spec:
  selector: { app: tcp-echo }
  ports: [{ name: tcp, port: ${port} }]
`;
  const allow = Array.from(
    { length: policies },
    (_, i) => `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: allow-${i}, namespace: foo }
spec:
  selector: { matchLabels: { app: tcp-echo } }
  action: ALLOW
  rules:
  - from: [{ source: { ipBlocks: ["10.${i}.0.0/16"${i === policies - 1 ? ', "127.0.0.0/8"' : ''}] } }]
    to: [{ operation: { ports: ["${port}"] } }]
`,
  ).join('');
  return service + allow;
}

async function main() {
  if (mode === 'bare') {
    const server = net.createServer({ allowHalfOpen: true, noDelay: true }, echo);
    server.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
    return;
  }
  // The port is picked first: the Service and the policies name it.
  const probe = net.createServer();
  await new Promise((r) => probe.listen(0, '127.0.0.1', r));
  const port = probe.address().port;
  await new Promise((r) => probe.close(r));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'meshlet-tcp-bench-'));
  writeFileSync(path.join(dir, 'mesh.yaml'), config(port, mode === 'mesh-authz' ? 10 : 0));
  const { createMesh } = await builtCore('index.js');
  const mesh = await createMesh({
    config: dir,
    workload: {
      name: 'tcp-echo-v1',
      namespace: 'foo',
      serviceAccount: 'tcp-echo',
      labels: { app: 'tcp-echo' },
    },
    telemetry: { otlp: false },
  });
  await mesh.listenTcp(echo, port, '127.0.0.1');
  console.log(`listening ${port}`);
}

await main();
