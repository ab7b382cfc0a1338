// nginx as a stand-in for a sidecar: a loopback reverse proxy with an upstream keepalive
// pool, run from a temp dir (`-p <dir> -c <dir>/nginx.conf -e <dir>/error.log`) so it needs
// no root paths and never writes to /var/lib/nginx or /var/log/nginx. Used by bench/proxy-hop.js.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const TEMP_PATHS = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'];

/** The nginx.conf text: one worker, no access log, pid, error log and every temp path inside `dir`. */
export function nginxConf(dir, listenPort, upstreamPort) {
  // As root the workers would drop to `nobody`, who cannot enter the 0700 temp dir.
  const user = process.getuid?.() === 0 ? 'user root;\n' : '';
  return `${user}worker_processes 1;
daemon off;
master_process on;
pid ${path.join(dir, 'nginx.pid')};
error_log ${path.join(dir, 'error.log')} warn;
events { worker_connections 1024; }
http {
  access_log off;
${TEMP_PATHS.map((t) => `  ${t}_temp_path ${path.join(dir, 'temp', t)};`).join('\n')}
  upstream app {
    server 127.0.0.1:${upstreamPort};
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${listenPort};
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`;
}

/** Writes nginx.conf and the temp dirs into `dir`; returns nginx's command-line arguments. */
export function prepareNginx(dir, listenPort, upstreamPort) {
  for (const t of TEMP_PATHS) mkdirSync(path.join(dir, 'temp', t), { recursive: true });
  const conf = path.join(dir, 'nginx.conf');
  writeFileSync(conf, nginxConf(dir, listenPort, upstreamPort));
  // `-e` (nginx >= 1.19.5) also moves the error log nginx opens before it reads nginx.conf.
  return ['-p', dir, '-c', conf, '-e', path.join(dir, 'error.log')];
}

/** Pids whose parent is `pid` (the workers of an nginx master), found by scanning /proc. */
export function childPids(pid) {
  const out = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(name));
    } catch {
      // The process exited between readdir and read.
    }
  }
  return out;
}
