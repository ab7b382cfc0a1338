// The load of bench/tcp-inbound.js: `concurrency` loops, each opening a connection, sending a
// line, reading its echo and closing, again and again. Prints `start` after the warm-up and
// `done <connections>` after the timed window.
//   node bench/tcp-inbound-client.js <port> <seconds> <concurrency> <warmup seconds>
import net from 'node:net';

const [port, seconds, concurrency, warmup] = process.argv.slice(2).map(Number);
const LINE = Buffer.from('ping\n');

function once() {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1', noDelay: true });
    s.once('connect', () => s.end(LINE));
    s.on('data', () => {});
    // A reset (the server stopping at the end of a run) ends this connection, nothing more.
    s.once('error', () => undefined);
    s.once('close', () => resolve());
  });
}

let counting = false;
let done = 0;
let stop = false;
async function loop() {
  while (!stop) {
    await once();
    if (counting) done++;
  }
}

const loops = Array.from({ length: concurrency }, loop);
setTimeout(() => {
  counting = true;
  console.log('start');
  setTimeout(() => {
    counting = false;
    console.log(`done ${done}`);
    stop = true;
    process.exit(0);
  }, seconds * 1000);
}, warmup * 1000);
await Promise.all(loops);
