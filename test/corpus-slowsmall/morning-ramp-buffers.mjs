// morning-ramp-buffers: the rendering service behind a help-center CMS
// (markdown in, sanitised HTML out). The process starts at the beginning of
// the working day: traffic rises slowly from 1 to 6 req/s over the first 3
// hours (speed 1) as the editors' timezones come online, then stays at 6 req/s.
// What grows with the load is all bounded by it: request bodies and rendered
// pages in flight (each render waits on the HTML sanitiser service), the
// per-connection bookkeeping of the keep-alive sockets, the per-tenant
// rate-limit windows (last 10 minutes of requests), and the render cache
// (entries live 10 minutes, at most 1 000), which holds more pages when more
// distinct pages are rendered per 10 minutes. Nothing is kept beyond that.
// Healthy.
import { createHash } from 'node:crypto';
import {
  buildBallast,
  listen,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  scaledMs,
  selfRequests,
} from '../corpus/lib/corpus.mjs';

const START_RATE = 1; // req/s at speed 1
const PEAK_RATE = 6;
const RAMP_S = 3 * 3600;
const CACHE_TTL_S = 600;
const CACHE_MAX = 1000;
const RATE_WINDOW_S = 600;
const TENANTS = 120;
const DOCUMENTS = 4000;

/** Morning ramp: an S-curve from START_RATE to PEAK_RATE over RAMP_S, flat after. */
function currentRate() {
  const x = Math.min(1, programSeconds() / RAMP_S);
  return START_RATE + (PEAK_RATE - START_RATE) * (0.5 - 0.5 * Math.cos(Math.PI * x));
}

// --- Render cache (bounded: TTL and max entries) ---------------------------------------

class RenderCache {
  constructor({ ttlMs, maxEntries }) {
    this.ttlMs = ttlMs;
    this.maxEntries = maxEntries;
    this.entries = new Map();
    this.hits = 0;
    this.misses = 0;
  }

  get(key) {
    const entry = this.entries.get(key);
    if (entry === undefined || entry.expiresAt < Date.now()) {
      if (entry !== undefined) this.entries.delete(key);
      this.misses++;
      return undefined;
    }
    this.entries.delete(key);
    this.entries.set(key, entry);
    this.hits++;
    return entry;
  }

  set(key, html, meta) {
    this.entries.delete(key);
    this.entries.set(key, { html, meta, expiresAt: Date.now() + this.ttlMs });
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value);
  }

  prune() {
    const now = Date.now();
    for (const [key, entry] of this.entries) if (entry.expiresAt < now) this.entries.delete(key);
  }
}

const renderCache = new RenderCache({ ttlMs: scaledMs(CACHE_TTL_S), maxEntries: CACHE_MAX });

// --- Per-tenant rate limiting (sliding window log) ----------------------------------------------

/** tenant -> { recent: [{ at, bytes }], ... } for the last RATE_WINDOW_S. */
const rateWindows = new Map();

function admit(tenant, bytes) {
  const now = Date.now();
  let window = rateWindows.get(tenant);
  if (window === undefined) {
    window = { tenant, recent: [], bytes: 0, rejected: 0 };
    rateWindows.set(tenant, window);
  }
  const cutoff = now - scaledMs(RATE_WINDOW_S);
  let drop = 0;
  while (drop < window.recent.length && window.recent[drop].at < cutoff) window.bytes -= window.recent[drop++].bytes;
  if (drop > 0) window.recent.splice(0, drop);
  if (window.recent.length >= 2000) {
    window.rejected++;
    return false;
  }
  window.recent.push({ at: now, bytes });
  window.bytes += bytes;
  return true;
}

function pruneWindows() {
  const cutoff = Date.now() - scaledMs(RATE_WINDOW_S);
  for (const [tenant, window] of rateWindows) {
    const last = window.recent[window.recent.length - 1];
    if (last === undefined || last.at < cutoff) rateWindows.delete(tenant);
  }
}

// --- Connections --------------------------------------------------------------------------

/** socket -> per-connection bookkeeping, dropped on close. */
const connections = new Map();
let connectionSeq = 0;

function trackConnection(socket) {
  const info = { id: ++connectionSeq, remote: `${socket.remoteAddress}:${socket.remotePort}`, openedAt: Date.now(), requests: 0, bytesIn: 0 };
  connections.set(socket, info);
  socket.once('close', () => connections.delete(socket));
}

// --- Rendering ----------------------------------------------------------------------------

function escapeHtml(text) {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function inline(text) {
  return escapeHtml(text)
    .replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>')
    .replace(/`([^`]+)`/g, '<code>$1</code>')
    .replace(/\[([^\]]+)\]\(([^)]+)\)/g, '<a href="$2">$1</a>');
}

function renderMarkdown(source) {
  const out = [];
  let list = false;
  for (const line of source.split('\n')) {
    if (line.startsWith('- ')) {
      if (!list) out.push('<ul>');
      list = true;
      out.push(`<li>${inline(line.slice(2))}</li>`);
      continue;
    }
    if (list) out.push('</ul>');
    list = false;
    if (line.startsWith('## ')) out.push(`<h2>${inline(line.slice(3))}</h2>`);
    else if (line.startsWith('# ')) out.push(`<h1>${inline(line.slice(2))}</h1>`);
    else if (line.trim() !== '') out.push(`<p>${inline(line)}</p>`);
  }
  if (list) out.push('</ul>');
  return out.join('\n');
}

/** The HTML sanitiser service: a network hop with real latency. */
function sanitize(html) {
  return new Promise((resolve) => setTimeout(() => resolve(html.replace(/ on\w+="[^"]*"/g, '')), 20 + Math.random() * 60));
}

function sendJson(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const counters = { renders: 0, cached: 0, rejected: 0, inFlight: 0, peakInFlight: 0 };

async function handler(req, res) {
  const info = connections.get(req.socket);
  if (info !== undefined) info.requests++;
  if (req.method !== 'POST' || !req.url.startsWith('/v1/render')) return sendJson(res, 404, { error: 'no route' });
  counters.inFlight++;
  counters.peakInFlight = Math.max(counters.peakInFlight, counters.inFlight);
  try {
    const tenant = req.headers['x-tenant'] ?? 'default';
    const body = await readBody(req, 256 * 1024);
    if (info !== undefined) info.bytesIn += body.length;
    if (!admit(tenant, body.length)) {
      counters.rejected++;
      return sendJson(res, 429, { error: 'rate limited' });
    }
    const key = createHash('sha1').update(body).digest('base64url');
    const hit = renderCache.get(key);
    if (hit !== undefined) {
      counters.cached++;
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'x-cache': 'hit' });
      return res.end(hit.html);
    }
    const source = body.toString('utf8');
    const html = await sanitize(renderMarkdown(source));
    counters.renders++;
    renderCache.set(key, html, { tenant, sourceBytes: body.length, renderedAt: Date.now() });
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'x-cache': 'miss' });
    res.end(html);
  } finally {
    counters.inFlight--;
  }
}

// --- Editors (simulated clients) ----------------------------------------------------------------

const random = rng(0x3a3b);
const WORDS = 'account billing invoice refund password reset export import webhook token team member role plan upgrade usage limit region backup restore schedule'.split(' ');

function sentence(r, words) {
  const out = [];
  for (let i = 0; i < words; i++) out.push(WORDS[Math.floor(r() * WORDS.length)]);
  if (r() < 0.3) out.push(`**${WORDS[Math.floor(r() * WORDS.length)]}**`);
  if (r() < 0.2) out.push(`[see ${WORDS[Math.floor(r() * WORDS.length)]}](/help/${Math.floor(r() * 500)})`);
  return out.join(' ');
}

function makeDocument(i) {
  const r = rng(0xd0c + i);
  const lines = [`# Help article ${i}: ${sentence(r, 4)}`];
  const sections = 2 + Math.floor(r() * 4);
  for (let s = 0; s < sections; s++) {
    lines.push('', `## ${sentence(r, 3)}`);
    for (let p = 0; p < 2 + Math.floor(r() * 3); p++) lines.push(sentence(r, 12 + Math.floor(r() * 20)));
    if (r() < 0.5) for (let k = 0; k < 3; k++) lines.push(`- ${sentence(r, 6)} \`${WORDS[k]}\``);
  }
  return lines.join('\n');
}

// The editors' drafts: a fixed set of articles, a few very popular (previews are re-rendered often).
const documents = Array.from({ length: DOCUMENTS }, (_, i) => makeDocument(i));

function nextRequest() {
  const doc = Math.floor(random() ** 1.6 * DOCUMENTS);
  const tenant = `tenant-${1 + Math.floor(random() ** 1.3 * TENANTS)}`;
  return { method: 'POST', path: '/v1/render?format=html', headers: { 'content-type': 'text/markdown', 'x-tenant': tenant }, body: documents[doc] };
}

// --- Start ----------------------------------------------------------------------------------------

const ballastMb = buildBallast();
const { server, port } = await listen(handler);
server.on('connection', trackConnection);

setInterval(() => {
  renderCache.prune();
  pruneWindows();
}, scaledMs(60));

const client = selfRequests(port, { perSecond: currentRate, next: nextRequest, maxInFlight: 256 });

reportStats(() => {
  let windowEntries = 0;
  for (const window of rateWindows.values()) windowEntries += window.recent.length;
  return {
    retained: renderCache.entries.size,
    rate: Math.round(currentRate() * 100) / 100,
    cacheEntries: renderCache.entries.size,
    cacheHits: renderCache.hits,
    cacheMisses: renderCache.misses,
    tenants: rateWindows.size,
    windowEntries,
    connections: connections.size,
    inFlight: counters.inFlight,
    peakInFlight: counters.peakInFlight,
    renders: counters.renders,
    rejected: counters.rejected,
    requests: client.completed,
    failed: client.failed,
  };
});

ready(`morning-ramp-buffers: markdown render service, traffic ${START_RATE} -> ${PEAK_RATE} req/s over 3 h then flat; in-flight buffers, connections, rate windows and a 10-min render cache follow the load; ballast ${ballastMb} MB`);
