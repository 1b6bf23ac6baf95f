// Real servers for the gateway's tests, started on loopback by the test
// itself: nginx (the site, over HTTPS and plain HTTP), tinyproxy (an
// HTTP upstream proxy), microsocks (a SOCKS5 one) and nginx's stream
// module (TLS in front of a proxy, for `https://` upstreams).  Each runs
// in the foreground in its own temp dir, on ports from freePort(), and
// touches nothing outside that dir, so several can run at once and CI
// (root on a fresh Debian 12) and a developer (non-root) get the same.

import { spawn } from 'node:child_process';
import { closeSync, ftruncateSync, mkdirSync, mkdtempSync, openSync,
         readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { pinOf } from './certs.mjs';
import { freePort, sleep, waitFor } from './engine.mjs';

const NGINX = '/usr/sbin/nginx';
const TINYPROXY = '/usr/bin/tinyproxy';
const MICROSOCKS = '/usr/bin/microsocks';
const CURL = '/usr/bin/curl';
const STREAM_MODULE = '/usr/lib/nginx/modules/ngx_stream_module.so';

// What a test left running when it failed before stop(): processes get
// SIGTERM and dirs are removed when Node exits.  'exit' handlers must be
// synchronous, which kill() and rmSync() are.  A signal (a runner's
// timeout, Ctrl-C) ends Node without 'exit', so it cleans up too, then
// dies of the same signal, as it would have.
const live = new Set();
const dirs = new Set();

function cleanUp() {
  for (const proc of live)
    proc.kill('SIGTERM');
  live.clear();
  for (const dir of dirs)
    rmSync(dir, { recursive: true, force: true });
  dirs.clear();
}

process.on('exit', cleanUp);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => {
    cleanUp();
    process.kill(process.pid, sig);
  });
}

function tempDir(prefix) {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  dirs.add(dir);
  return dir;
}

function removeDir(dir) {
  rmSync(dir, { recursive: true, force: true });
  dirs.delete(dir);
}

function readOr(file, fallback) {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}

/**
 * Resolves when something accepts on 127.0.0.1:port; rejects after ms,
 * or when signal aborts.
 * @param {number} port
 * @param {number} [ms]
 * @param {AbortSignal} [signal]
 */
export async function waitPort(port, ms = 10000, signal) {
  const end = Date.now() + ms;
  for (;;) {
    if (signal?.aborted)
      throw new Error(`gave up waiting for 127.0.0.1:${port}`);
    const ok = await new Promise((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port });
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok)
      return;
    if (Date.now() > end)
      throw new Error(`nothing accepts on 127.0.0.1:${port}`);
    await sleep(25);
  }
}

// The environment a client runs in: the caller's, minus anything that
// would send it through a proxy the test did not ask for (CI machines
// often set these).
function cleanEnv(extra = {}) {
  const env = { ...process.env };
  for (const k of Object.keys(env)) {
    if (/^(https?|all|no|ftp)_proxy$/i.test(k))
      delete env[k];
  }
  return { ...env, ...extra };
}

/**
 * Runs curl and never throws on its exit status.  `-q` (which must come
 * first) skips ~/.curlrc; -sS keeps progress out of stderr but errors in.
 * @param {string[]} args
 * @param {{env?: object, timeoutMs?: number}} [o] env: added to a copy
 *   of ours without *_proxy variables (e.g. SSLKEYLOGFILE)
 * @returns {Promise<{code: number, stdout: string, stderr: string}>}
 */
export function curl(args, o = {}) {
  const ms = o.timeoutMs ?? 10000;
  return new Promise((resolve, reject) => {
    const all = ['-q', '-sS', '--max-time', String(ms / 1000), ...args];
    const proc = spawn(CURL, all, { env: cleanEnv(o.env),
                                    stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => { stdout += d; });
    proc.stderr.on('data', (d) => { stderr += d; });
    proc.on('error', reject);

    // --max-time covers the transfer; this covers a curl that hangs
    // anyway (name resolution, a stuck proxy handshake).
    const kill = setTimeout(() => proc.kill('SIGKILL'), ms + 2000);
    proc.on('close', (code, signal) => {
      clearTimeout(kill);
      resolve({ code: code ?? signal, stdout, stderr });
    });
  });
}

// Runs openssl for makePki; its stderr goes into the error if it fails.
function openssl(dir, args) {
  return new Promise((resolve, reject) => {
    const proc = spawn('openssl', args, { cwd: dir,
                                          stdio: ['ignore', 'ignore',
                                                  'pipe'] });
    let err = '';
    proc.stderr.on('data', (d) => { err += d; });
    proc.on('error', reject);
    proc.on('close', (code) => {
      if (code === 0)
        resolve();
      else
        reject(new Error(`openssl ${args[0]} failed (${code}): ${err}`));
    });
  });
}

const P256 = ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'];

// A leaf for the names the site answers to, signed by the CA: EKU
// serverAuth and digitalSignature (ECDHE-ECDSA signs with it), AKI so a
// strict RFC 5280 verifier finds the issuer.
async function makeLeaf(dir, name) {
  await openssl(dir, ['genpkey', ...P256, '-out', `${name}.key`]);
  await openssl(dir, ['req', '-new', '-key', `${name}.key`, '-out',
                      `${name}.csr`, '-subj', '/CN=site.test']);
  writeFileSync(path.join(dir, `${name}.ext`),
                'basicConstraints=critical,CA:FALSE\n' +
                'keyUsage=critical,digitalSignature\n' +
                'extendedKeyUsage=serverAuth\n' +
                'subjectKeyIdentifier=hash\n' +
                'authorityKeyIdentifier=keyid\n' +
                'subjectAltName=DNS:site.test,DNS:localhost,' +
                'IP:127.0.0.1\n');
  await openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA',
                      'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
                      '-days', '30', '-extfile', `${name}.ext`, '-out',
                      `${name}.pem`]);
  const certPem = readFileSync(path.join(dir, `${name}.pem`), 'utf8');
  return {
    cert: path.join(dir, `${name}.pem`),
    key: path.join(dir, `${name}.key`),
    pem: certPem,
    pin: pinOf(certPem),
  };
}

/**
 * A test CA (EC P-256) and two leaves for site.test, localhost and
 * 127.0.0.1 that it issued: `good` and `impostor`, with different keys.
 * The impostor passes chain verification (same CA, same names) and only
 * a pin on the leaf key tells it apart.
 * @param {string} [dir] where to write; a temp dir (removed at exit, or
 *   by remove()) when not given
 * @returns {Promise<{dir: string, ca: string, caPem: string,
 *   caPin: string, good: Leaf, impostor: Leaf, remove(): void}>}
 *   Leaf = {cert, key: paths, pem: string, pin: string}
 */
export async function makePki(dir) {
  const own = !dir;
  dir ??= tempDir('pw-pki-');
  mkdirSync(dir, { recursive: true });

  await openssl(dir, ['genpkey', ...P256, '-out', 'ca.key']);
  await openssl(dir, ['req', '-x509', '-new', '-key', 'ca.key', '-out',
                      'ca.pem', '-subj', '/CN=pinwarden test CA',
                      '-days', '3650', '-addext',
                      'basicConstraints=critical,CA:TRUE', '-addext',
                      'keyUsage=critical,keyCertSign,cRLSign']);
  const caPem = readFileSync(path.join(dir, 'ca.pem'), 'utf8');

  // One at a time: both bump ca.srl.
  const good = await makeLeaf(dir, 'good');
  const impostor = await makeLeaf(dir, 'impostor');

  return {
    dir, caPem, good, impostor,
    ca: path.join(dir, 'ca.pem'),
    caPin: pinOf(caPem),
    remove: () => { if (own) removeDir(dir); },
  };
}

/**
 * Starts a foreground server and waits until every port accepts.  If it
 * exits first, the error carries its output and its log file.  stop()
 * resolves with how it ended, {code, signal}.
 */
async function launch({ name, cmd, args, dir, ports, logFile,
                        graceMs = 1000 }) {
  const proc = spawn(cmd, args, { cwd: dir,
                                  stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(proc);

  // A server must not keep Node alive: when a test fails before stop(),
  // the process still ends, and its 'exit' handler stops the server.
  proc.unref();
  proc.stdout.unref();
  proc.stderr.unref();

  let output = '';
  proc.stdout.on('data', (d) => { output += d; });
  proc.stderr.on('data', (d) => { output += d; });
  const exited = new Promise((resolve) => {
    proc.on('exit', (code, signal) => {
      live.delete(proc);
      resolve({ code, signal });
    });
  });
  const spawnError = new Promise((resolve, reject) => {
    proc.on('error', reject);
  });

  const why = () => output + (logFile ? readOr(logFile, '') : '');
  const ready = new AbortController();
  try {
    await Promise.race([
      Promise.all(ports.map((p) => waitPort(p, 10000, ready.signal))),
      spawnError,
      exited.then(({ code, signal }) => {
        throw new Error(`${name} exited (${code ?? signal}):\n${why()}`);
      }),
    ]);
  } catch (e) {
    // A program that could not be spawned never emits 'exit'.
    if (proc.pid !== undefined && proc.exitCode === null &&
        proc.signalCode === null) {
      proc.kill('SIGKILL');
      await exited;
    }
    throw e;
  } finally {
    ready.abort();
  }

  return {
    proc,
    output: () => output,

    // SIGTERM, then SIGKILL after graceMs: tinyproxy sometimes misses a
    // SIGTERM that comes right after it starts listening.  ref() keeps
    // Node alive until the exit is seen.  The dir goes with it (so read
    // its logs first) unless keep, and then at exit.
    async stop({ keep = false } = {}) {
      proc.ref();
      if (proc.exitCode === null && proc.signalCode === null)
        proc.kill('SIGTERM');
      const kill = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      const r = await exited;
      clearTimeout(kill);
      if (!keep)
        removeDir(dir);
      return r;
    },
  };
}

// freePort() closes the port before the server binds it, so another
// process can take it in between; a bind failure then gets new ports.
// The server's dir goes when it can't be started at all.
async function withPorts(n, dir, start) {
  for (let attempt = 0; ; attempt++) {
    const ports = [];
    for (let i = 0; i < n; i++)
      ports.push(await freePort());
    try {
      return await start(ports);
    } catch (e) {
      if (attempt === 2 || !/in use/i.test(e.message)) {
        removeDir(dir);
        throw e;
      }
    }
  }
}

// The top of every nginx config.  As root, nginx would switch its
// workers to `nobody`, which can't enter a 0700 temp dir to read /big or
// write temp files, so they stay this user; as anyone else `user` is
// ignored with a warning, so it is left out.  Temp paths, when the
// config has an http block, default to /var/lib/nginx: they are set
// here (in http) by the caller through tempPaths().
function nginxMain(dir) {
  const user = process.getuid() === 0 ? 'user root root;\n' : '';
  return user +
    'worker_processes 1;\n' +
    `lock_file ${dir}/nginx.lock;\n` +
    'events { worker_connections 256; }\n';
}

function tempPaths(dir) {
  return ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((t) => `  ${t}_temp_path ${dir}/tmp/${t};\n`).join('');
}

// Runs nginx on a config of ours: `-p` and `-e` keep it off /etc and
// /var/log from the first line it logs, `-g` says the rest.
function runNginx(name, dir, conf, ports) {
  mkdirSync(path.join(dir, 'tmp'), { recursive: true });
  writeFileSync(path.join(dir, 'nginx.conf'), conf);
  const errorLog = path.join(dir, 'error.log');
  // The master waits for its workers on SIGTERM; killed, it would leave
  // them running, so it gets time.
  return launch({
    name, dir, ports, logFile: errorLog, cmd: NGINX, graceMs: 5000,
    args: ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', errorLog,
           '-g', `daemon off; pid ${dir}/nginx.pid; ` +
                 `error_log ${errorLog} notice;`],
  });
}

const PROTOCOLS = {
  '1.2': 'TLSv1.2',
  '1.3': 'TLSv1.3',
  both: 'TLSv1.2 TLSv1.3',
};

// One line of JSON per request: what the site saw, for assertions on
// which requests got through and over which TLS version.
const LOG_FORMAT = "log_format pw escape=json '{" +
  '"time":"$time_iso8601","port":"$server_port","scheme":"$scheme",' +
  '"method":"$request_method","uri":"$request_uri","status":$status,' +
  '"bytes":$body_bytes_sent,"tls":"$ssl_protocol",' +
  '"sni":"$ssl_server_name","host":"$host","ua":"$http_user_agent"' +
  "}';\n";

/**
 * nginx as the site: HTTPS on httpsPort (`/` answers "hello from
 * site.test\n", `/big` a file of bigBytes zero bytes through sendfile)
 * and plain HTTP on httpPort (`/` answers "plain\n").
 * @param {{pki: object, tls?: '1.2'|'1.3'|'both',
 *          cert?: 'good'|'impostor', bigBytes?: number,
 *          resumption?: boolean}} o
 *   resumption: session tickets and cache on; off by default so every
 *   handshake is a full one that shows the certificate
 * @returns {Promise<{httpsPort: number, httpPort: number, dir: string,
 *   accessLog(): string[], accessEntries(): object[],
 *   waitEntry(match: string|function, ms?): Promise<object>,
 *   errorLog(): string, stop(): Promise}>}
 *   accessEntries: the lines parsed (time, port, scheme, method, uri,
 *   status, bytes, tls, sni, host, ua); waitEntry: the first whose uri
 *   is match, or that match(entry) accepts, once nginx has written it
 */
export async function startNginx(o) {
  const tls = o.tls ?? 'both';
  const leaf = o.pki[o.cert ?? 'good'];
  if (!PROTOCOLS[tls] || !leaf)
    throw new Error(`startNginx: bad tls ${tls} or cert ${o.cert}`);

  const dir = tempDir('pw-nginx-');
  const www = path.join(dir, 'www');
  mkdirSync(www);
  if (o.bigBytes) {
    // Sparse: a gigabyte for the benchmark costs no disk.
    const fd = openSync(path.join(www, 'big'), 'w');
    ftruncateSync(fd, o.bigBytes);
    closeSync(fd);
  }
  const resume = o.resumption
    ? '    ssl_session_tickets on;\n' +
      '    ssl_session_cache shared:pw:1m;\n'
    : '    ssl_session_tickets off;\n' +
      '    ssl_session_cache off;\n';
  const accessLog = path.join(dir, 'access.log');

  const srv = await withPorts(2, dir, async ([httpsPort, httpPort]) => {
    const conf = nginxMain(dir) +
      'http {\n' +
      tempPaths(dir) +
      '  ' + LOG_FORMAT +
      `  access_log ${accessLog} pw;\n` +
      '  default_type text/plain;\n' +
      '  sendfile on;\n' +
      '  server {\n' +
      `    listen 127.0.0.1:${httpsPort} ssl;\n` +
      `    ssl_certificate ${leaf.cert};\n` +
      `    ssl_certificate_key ${leaf.key};\n` +
      `    ssl_protocols ${PROTOCOLS[tls]};\n` +
      resume +
      '    location / { return 200 "hello from site.test\\n"; }\n' +
      `    location = /big { root ${www}; ` +
      'default_type application/octet-stream; }\n' +
      '  }\n' +
      '  server {\n' +
      `    listen 127.0.0.1:${httpPort};\n` +
      '    location / { return 200 "plain\\n"; }\n' +
      '  }\n' +
      '}\n';
    const s = await runNginx('nginx', dir, conf, [httpsPort, httpPort]);
    return { ...s, httpsPort, httpPort };
  });

  const lines = () => readOr(accessLog, '').split('\n').filter(Boolean);
  const entries = () => lines().map((l) => JSON.parse(l));
  return {
    dir,
    httpsPort: srv.httpsPort,
    httpPort: srv.httpPort,
    accessLog: lines,
    accessEntries: entries,

    // nginx logs a request after it has sent the response, so a client
    // can be done before the line is written.
    waitEntry(match, ms = 3000) {
      const ok = typeof match === 'function' ? match
        : (e) => e.uri === match;
      return waitFor(() => entries().find(ok), ms,
                     `access-log entry for ${match}`);
    },
    errorLog: () => readOr(path.join(dir, 'error.log'), ''),
    stop: srv.stop,
  };
}

/**
 * nginx's stream module terminating TLS in front of a TCP port: with
 * tinyproxy behind it, an `https://` upstream proxy.  Its certificate is
 * the PKI's good leaf (valid for 127.0.0.1).
 * @param {{pki: object, target: number}} o target: the port behind it
 * @returns {Promise<{dir: string, port: number, stop(): Promise}>}
 */
export async function startTlsFront(o) {
  const dir = tempDir('pw-tlsfront-');
  const srv = await withPorts(1, dir, async ([port]) => {
    const conf = `load_module ${STREAM_MODULE};\n` +
      nginxMain(dir) +
      'stream {\n' +
      '  server {\n' +
      `    listen 127.0.0.1:${port} ssl;\n` +
      `    ssl_certificate ${o.pki.good.cert};\n` +
      `    ssl_certificate_key ${o.pki.good.key};\n` +
      `    proxy_pass 127.0.0.1:${o.target};\n` +
      '  }\n' +
      '}\n';
    const s = await runNginx('nginx stream', dir, conf, [port]);
    return { ...s, port };
  });
  return { dir, port: srv.port, stop: srv.stop };
}

/**
 * tinyproxy as an HTTP upstream proxy: loopback clients only, any port
 * for CONNECT (1.11 allows all when there is no ConnectPort line), Basic
 * auth when user is given (user and password in [A-Za-z0-9._-]).
 * Missing credentials get 407; wrong ones get 401, which is what
 * tinyproxy 1.11 answers.
 * @param {{user?: string, password?: string}} [o]
 * @returns {Promise<{dir: string, port: number, log(): string,
 *   stop(): Promise}>}
 */
export async function startTinyproxy(o = {}) {
  // Its config grammar takes nothing else here: no quoting, no escapes.
  for (const v of [o.user, o.password]) {
    if (v !== undefined && !/^[A-Za-z0-9._-]+$/.test(v))
      throw new Error(`startTinyproxy: ${v} is not [A-Za-z0-9._-]+`);
  }
  const dir = tempDir('pw-tinyproxy-');
  const logFile = path.join(dir, 'tinyproxy.log');
  const srv = await withPorts(1, dir, async ([port]) => {
    // LogLevel Info includes the Connect lines ("Request ...: CONNECT
    // site.test:443"), which is what tests look for.  As root, with no
    // User line, it keeps running as root (with a warning in the log).
    const conf = `Port ${port}\n` +
      'Listen 127.0.0.1\n' +
      'Timeout 30\n' +
      `LogFile "${logFile}"\n` +
      'LogLevel Info\n' +
      'MaxClients 64\n' +
      'Allow 127.0.0.1\n' +
      (o.user ? `BasicAuth ${o.user} ${o.password ?? ''}\n` : '');
    writeFileSync(path.join(dir, 'tinyproxy.conf'), conf);
    const s = await launch({
      name: 'tinyproxy', dir, ports: [port], logFile, cmd: TINYPROXY,
      args: ['-d', '-c', path.join(dir, 'tinyproxy.conf')],
    });
    return { ...s, port };
  });
  return { dir, port: srv.port, log: () => readOr(logFile, ''),
           stop: srv.stop };
}

/**
 * microsocks as a SOCKS5 upstream proxy on loopback; username/password
 * auth (RFC 1929) when user is given.  It keeps no log.
 * @param {{user?: string, password?: string}} [o]
 * @returns {Promise<{dir: string, port: number, stop(): Promise}>}
 */
export async function startMicrosocks(o = {}) {
  const dir = tempDir('pw-microsocks-');
  const srv = await withPorts(1, dir, async ([port]) => {
    const auth = o.user ? ['-u', o.user, '-P', o.password ?? ''] : [];
    const s = await launch({
      name: 'microsocks', dir, ports: [port], cmd: MICROSOCKS,
      args: ['-i', '127.0.0.1', '-p', String(port), ...auth],
    });
    return { ...s, port };
  });
  return { dir, port: srv.port, stop: srv.stop };
}

/**
 * A TCP relay in front of target that passes the server's bytes on in
 * pieces of `piece` octets, one piece per timer tick, so that a reader
 * behind it gets a TLS flight over many reads, as on a real network.
 * The client's bytes pass as they come.
 * @param {{target: number, piece?: number}} o
 * @returns {Promise<{port: number, stop(): Promise}>}
 */
export function startDribble(o) {
  const piece = o.piece ?? 200;
  return startOrigin((client) => {
    const up = net.connect(o.target, '127.0.0.1');
    const queue = [];
    let timer = null;
    const pump = () => {
      timer = null;
      const buf = queue.shift();
      if (buf === undefined)
        return;
      if (buf === null) {
        client.end();
        return;
      }
      client.write(buf.subarray(0, piece));
      if (buf.length > piece)
        queue.unshift(buf.subarray(piece));
      timer = setTimeout(pump, 1);
    };
    const push = (buf) => {
      queue.push(buf);
      if (timer === null)
        timer = setTimeout(pump, 1);
    };
    up.on('data', (d) => push(d));
    up.on('end', () => push(null));
    up.on('error', () => client.destroy());
    client.on('data', (d) => up.write(d));
    client.on('end', () => up.end());
    client.on('close', () => up.destroy());
  });
}

/**
 * A plain TCP origin on loopback, for tunnels whose bytes the gateway
 * does not inspect: each connection goes to serve(socket).  Sockets are
 * half-open (allowHalfOpen), so that serve decides when its side ends.
 * @param {(sock: net.Socket) => void} serve
 * @returns {Promise<{port: number, stop(): Promise}>}
 */
export async function startOrigin(serve) {
  const socks = new Set();
  const server = net.createServer({ allowHalfOpen: true }, (sock) => {
    socks.add(sock);
    sock.on('error', () => sock.destroy());
    sock.on('close', () => socks.delete(sock));
    serve(sock);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: server.address().port,
    stop: () => new Promise((resolve) => {
      for (const s of socks)
        s.destroy();
      server.close(resolve);
    }),
  };
}
