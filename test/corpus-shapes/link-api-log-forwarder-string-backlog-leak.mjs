// Link-shortener API (redirects, link creation, click stats) whose logging
// module forwards its structured log lines to the company's log collector
// instead of writing them to stdout. The forwarder is the classic
// hand-written one: every line is appended to one module-level string
// (`pending += line`), and a flush every 5 s POSTs the whole string to the
// collector as NDJSON; on success the sent prefix is cut off, on failure the
// flush backs off (5 s doubling up to 60 s) and keeps everything: it never
// drops a line, "so that no audit line is lost".
//
// At SCENARIO_ONSET (default 2 h) the collector has a 20-minute outage (503).
// By the time it is back, the backlog is bigger than the collector's 1 MiB
// request limit, so every later flush is answered 413 Payload Too Large, the
// backlog keeps growing with the traffic, and nothing is ever sent again.
import {
  buildBallast,
  listen,
  onsetSeconds,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  scaledMs,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0x10964a);
const OUTAGE_AT_S = onsetSeconds(7200);
const OUTAGE_S = 20 * 60;

// --- the collector (stand-in for the log collector's HTTP intake) --------------------

const COLLECTOR_MAX_BODY = 1024 * 1024;
const collector = { accepted: 0, acceptedBytes: 0, rejected503: 0, rejected413: 0 };

function collectorIngest(body) {
  return new Promise((resolve) => {
    // the proxy in front of the collector answers 413 from the content-length alone
    const length = Buffer.byteLength(body);
    setTimeout(() => {
      const now = programSeconds();
      if (now >= OUTAGE_AT_S && now < OUTAGE_AT_S + OUTAGE_S) {
        collector.rejected503++;
        resolve(503);
      } else if (length > COLLECTOR_MAX_BODY) {
        collector.rejected413++;
        resolve(413);
      } else {
        collector.accepted++;
        collector.acceptedBytes += length;
        resolve(200);
      }
    }, 2 + Math.floor(random() * 6));
  });
}

// --- the log forwarder -----------------------------------------------------------------

const FLUSH_EVERY_S = 5;
const MAX_BACKOFF_S = 60;

let pending = '';
let pendingLines = 0;
const forwarder = { flushes: 0, failures: 0, consecutiveFailures: 0, lastStatus: 0, sentLines: 0 };

function enqueueLine(line) {
  pending += line;
  pendingLines++;
}

function formatLine(level, msg, fields) {
  return `{"ts":"${new Date(1_700_000_000_000 + programSeconds() * 1000).toISOString()}","level":"${level}","svc":"link-api","msg":"${msg}",${fields}}\n`;
}

function logAccess(req, status, durationMs, bytes) {
  enqueueLine(
    formatLine(
      'info',
      'request',
      `"method":"${req.method}","path":${JSON.stringify(req.url)},"status":${status},"ms":${durationMs.toFixed(1)},"bytes":${bytes},"ua":${JSON.stringify(req.headers['user-agent'] ?? '')},"ref":${JSON.stringify(req.headers.referer ?? '')},"reqId":"${req.headers['x-request-id'] ?? ''}"`,
    ),
  );
}

function logEvent(level, msg, fields) {
  enqueueLine(formatLine(level, msg, fields));
}

async function flush() {
  if (pending.length === 0) return scheduleFlush(FLUSH_EVERY_S);
  forwarder.flushes++;
  const batch = pending;
  const batchLines = pendingLines;
  const status = await collectorIngest(batch);
  forwarder.lastStatus = status;
  if (status === 200) {
    pending = pending.slice(batch.length); // keep what was logged during the send
    pendingLines -= batchLines;
    forwarder.sentLines += batchLines;
    forwarder.consecutiveFailures = 0;
    return scheduleFlush(FLUSH_EVERY_S);
  }
  forwarder.failures++;
  forwarder.consecutiveFailures++;
  scheduleFlush(Math.min(MAX_BACKOFF_S, FLUSH_EVERY_S * 2 ** forwarder.consecutiveFailures));
}

function scheduleFlush(seconds) {
  setTimeout(flush, scaledMs(seconds)).unref();
}

// --- the link API -------------------------------------------------------------------------

const links = new Map(); // code -> {url, owner, createdAt, clicks}: bounded catalogue of 20 000 links
const LINK_CAP = 20_000;

function encodeCode(n) {
  return (n * 2654435761 >>> 0).toString(36);
}

for (let i = 0; i < 5000; i++) {
  links.set(encodeCode(i), { url: `https://shop.example/p/${i}?utm_source=social`, owner: `u${i % 700}`, createdAt: 0, clicks: 0 });
}
let linksCreated = 5000;

function sendJson(req, res, status, value, started) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
  logAccess(req, status, performance.now() - started, text.length);
}

async function handler(req, res) {
  const started = performance.now();
  const url = new URL(req.url ?? '/', 'http://lnk.local');
  if (req.method === 'GET' && url.pathname.startsWith('/r/')) {
    const link = links.get(url.pathname.slice(3));
    if (link === undefined) return sendJson(req, res, 404, { error: 'no such link' }, started);
    link.clicks++;
    res.writeHead(302, { location: link.url, 'content-length': 0 });
    res.end();
    return logAccess(req, 302, performance.now() - started, 0);
  }
  if (req.method === 'POST' && url.pathname === '/v1/links') {
    let body;
    try {
      body = JSON.parse((await readBody(req, 64 * 1024)).toString('utf8'));
    } catch {
      return sendJson(req, res, 400, { error: 'invalid JSON' }, started);
    }
    if (typeof body.url !== 'string' || !body.url.startsWith('https://')) {
      logEvent('warn', 'rejected link', `"owner":${JSON.stringify(body.owner ?? null)},"reason":"not https"`);
      return sendJson(req, res, 422, { error: 'https url required' }, started);
    }
    const code = encodeCode(linksCreated++);
    links.set(code, { url: body.url, owner: body.owner, createdAt: programSeconds(), clicks: 0 });
    if (links.size > LINK_CAP) links.delete(links.keys().next().value); // archived to cold storage
    logEvent('info', 'link created', `"code":"${code}","owner":${JSON.stringify(body.owner)},"host":${JSON.stringify(new URL(body.url).host)}`);
    return sendJson(req, res, 201, { code, short: `https://lnk.example/r/${code}` }, started);
  }
  if (req.method === 'GET' && url.pathname.startsWith('/v1/links/') && url.pathname.endsWith('/stats')) {
    const link = links.get(url.pathname.split('/')[3]);
    return link ? sendJson(req, res, 200, { clicks: link.clicks, createdAt: link.createdAt }, started) : sendJson(req, res, 404, { error: 'no such link' }, started);
  }
  if (req.method === 'GET' && url.pathname === '/healthz') {
    res.writeHead(200, { 'content-length': 2 });
    return res.end('ok'); // not logged
  }
  sendJson(req, res, 404, { error: 'not found' }, started);
}

// --- clients -------------------------------------------------------------------------------

const AGENTS = [
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36',
  'facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)',
  'Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)',
];
const REFERERS = ['https://t.co/', 'https://www.instagram.com/', 'https://news.example.org/today', '', 'https://mail.example.com/'];
let requestSeq = 0;

function visitorRequest() {
  const headers = {
    'user-agent': AGENTS[Math.floor(random() * AGENTS.length)],
    referer: REFERERS[Math.floor(random() * REFERERS.length)],
    'x-request-id': `req-${(requestSeq++).toString(36)}-${Math.floor(random() * 1e9).toString(36)}`,
  };
  const r = random();
  if (r < 0.06) {
    const owner = `u${Math.floor(random() * 900)}`;
    const url = random() < 0.03 ? 'http://insecure.example/x' : `https://shop.example/p/${Math.floor(random() * 90000)}?utm_campaign=c${Math.floor(random() * 40)}`;
    return { method: 'POST', path: '/v1/links', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ url, owner }) };
  }
  // popular links get most of the clicks
  const n = Math.floor(linksCreated * (1 - random() ** 0.3));
  if (r < 0.1) return { method: 'GET', path: `/v1/links/${encodeCode(n)}/stats`, headers };
  return { method: 'GET', path: `/r/${encodeCode(n)}`, headers };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);
scheduleFlush(FLUSH_EVERY_S);

const visitors = selfRequests(port, { perSecond: 4, maxInFlight: 16, next: visitorRequest });
const probes = selfRequests(port, { perSecond: 0.2, maxInFlight: 2, next: () => ({ method: 'GET', path: '/healthz' }) });

reportStats(() => ({
  retained: pendingLines,
  pendingChars: pending.length,
  sentLines: forwarder.sentLines,
  flushes: forwarder.flushes,
  flushFailures: forwarder.failures,
  lastCollectorStatus: forwarder.lastStatus,
  links: links.size,
  requestsFailed: visitors.failed + probes.failed,
}));

ready(
  `link-api-log-forwarder-string-backlog-leak: link API at 4 req/s, log lines appended to one pending string, collector outage at ${OUTAGE_AT_S} s then 413 forever (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
