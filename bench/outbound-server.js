// The loopback upstream for bench/outbound.js, in its own process so the client's
// CPU is measured alone. Prints its port on stdout.
import { createServer } from 'node:http';

const body = JSON.stringify({
  id: 0,
  reviewer: 'Reviewer1',
  text: 'An extremely entertaining play by Shakespeare.',
});
const server = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${server.address().port}\n`);
});
process.on('message', (m) => {
  if (m === 'stop') server.close(() => process.exit(0));
});
