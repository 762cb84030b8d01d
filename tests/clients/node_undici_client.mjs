#!/usr/bin/env node
// HTTPS through the proxy with undici's ProxyAgent, as a Node function does it.
//
// Proxy: a ProxyAgent per session built from HTTPS_PROXY (https:// URLs) or
// HTTP_PROXY (http:// URLs), lower-case forms too; it always sends CONNECT.
// Without the variable the request goes direct.
// Trust: NODE_EXTRA_CA_CERTS. Node reads that file once at start-up into its
// default root store, and undici's connector calls tls.connect() for the
// origin without a `ca` option, so the origin handshake inside the tunnel
// uses that store: no requestTls is needed (checked by
// tests/integration/https_clients_test.cpp, which fails without the variable).
// Passing requestTls.ca would instead *replace* the public roots.
//
// Options as the Python clients (client_cli.py): --url (repeatable; several =
// one keep-alive session), --header 'Name: value', --method, --data,
// --content-type, --count N, --parallel P, --timeout SECONDS. One JSON line per
// request: {"status","headers","body"} or {"error"}; exit 0 only when every
// request got an HTTP response.
import { parseArgs } from 'node:util';
import { Agent, ProxyAgent, fetch } from 'undici';

function usage(message) {
  process.stderr.write(`node_undici_client: ${message}\n`);
  process.exit(2);
}

function options() {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        url: { type: 'string', multiple: true },
        header: { type: 'string', multiple: true, default: [] },
        method: { type: 'string' },
        data: { type: 'string' },
        'content-type': { type: 'string' },
        count: { type: 'string', default: '1' },
        parallel: { type: 'string', default: '1' },
        timeout: { type: 'string', default: '20' },
      },
    }).values;
  } catch (err) {
    usage(err.message);
  }
  if (!parsed.url || parsed.url.length === 0) usage('--url is required');
  const count = Number(parsed.count), parallel = Number(parsed.parallel), timeout = Number(parsed.timeout);
  if (!(Number.isInteger(count) && count > 0 && Number.isInteger(parallel) && parallel > 0 && timeout > 0)) {
    usage('--count, --parallel and --timeout must be positive');
  }
  const headers = [];
  for (const h of parsed.header) {
    const colon = h.indexOf(':');
    if (colon <= 0) usage(`--header must be 'Name: value': ${h}`);
    headers.push([h.slice(0, colon).trim(), h.slice(colon + 1).trim()]);
  }
  if (parsed['content-type'] !== undefined) headers.push(['Content-Type', parsed['content-type']]);
  const method = (parsed.method ?? (parsed.data !== undefined ? 'POST' : 'GET')).toUpperCase();
  return { urls: parsed.url, headers, method, body: parsed.data, count, parallel, timeoutMs: timeout * 1000 };
}

function proxyFor(url) {
  const env = process.env;
  return url.startsWith('https:') ? env.HTTPS_PROXY ?? env.https_proxy : env.HTTP_PROXY ?? env.http_proxy;
}

// One dispatcher per proxy URL (or direct) and session: its pool keeps the
// tunnel alive across the session's requests. Requests are awaited back to
// back as functions write them; undici's pool then opens a second tunnel for
// the second request (the first connection's "drain" comes a tick later) and
// reuses both after that.
function sessionAgents(timeoutMs) {
  const agents = new Map();
  const timeouts = { connectTimeout: timeoutMs, headersTimeout: timeoutMs, bodyTimeout: timeoutMs };
  return {
    for(url) {
      const proxy = proxyFor(url) || '';
      if (!agents.has(proxy)) {
        agents.set(proxy, proxy ? new ProxyAgent({ uri: proxy, ...timeouts }) : new Agent(timeouts));
      }
      return agents.get(proxy);
    },
    close: () => Promise.all([...agents.values()].map((a) => a.close())),
  };
}

// undici reports "fetch failed" and hides the reason in `cause` chains.
function describe(err) {
  const parts = [];
  for (let e = err; e && parts.length < 5; e = e.cause) parts.push(e.code ? `${e.message} (${e.code})` : `${e.message}`);
  return parts.join(': ');
}

function emit(record) {
  process.stdout.write(JSON.stringify(record) + '\n');
}

async function oneRequest(opts, agents, url) {
  const init = { method: opts.method, headers: opts.headers, dispatcher: agents.for(url) };
  if (opts.body !== undefined) init.body = opts.body;
  init.signal = AbortSignal.timeout(opts.timeoutMs);
  const r = await fetch(url, init);
  const body = await r.text();
  return { status: r.status, headers: Object.fromEntries(r.headers), body };
}

async function runSession(opts) {
  const agents = sessionAgents(opts.timeoutMs);
  let ok = true;
  try {
    for (let i = 0; i < opts.count; i++) {
      for (const url of opts.urls) {
        try {
          emit(await oneRequest(opts, agents, url));
        } catch (err) {
          ok = false;
          emit({ error: describe(err) });
        }
      }
    }
  } finally {
    await agents.close();
  }
  return ok;
}

const opts = options();
const sessions = Array.from({ length: opts.parallel }, () => runSession(opts));
const results = await Promise.all(sessions);
process.exitCode = results.every(Boolean) ? 0 : 1;
