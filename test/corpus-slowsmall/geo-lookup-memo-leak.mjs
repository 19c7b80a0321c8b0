// geo-lookup-memo-leak: a geo/IP lookup API. Every lookup walks a static
// range table (binary search) and builds a parsed result object; to save the
// work, results are memoized per IP in the module-level Map `lookupCache`,
// which nobody ever evicts. Recurring callers hit the memo, but new client IPs
// (mobile carriers, CGNAT pools, crawlers) keep arriving, so the Map grows
// for as long as the process lives.
import {
  buildBallast,
  listen,
  ready,
  reportStats,
  rng,
  selfRequests,
} from '../corpus/lib/corpus.mjs';

const REQUESTS_PER_SECOND = 3; // speed 1
const SHARE_FROM_RECURRING = 0.58; // API customers' servers, office proxies, ...
const RECURRING_CLIENTS = 800;
const RANGES = 24_000;

// --- Static range table (loaded once, like a GeoLite CSV) -------------------

const COUNTRIES = [
  ['DE', 'Germany', 'Europe/Berlin'], ['FR', 'France', 'Europe/Paris'], ['GB', 'United Kingdom', 'Europe/London'],
  ['US', 'United States', 'America/New_York'], ['US', 'United States', 'America/Chicago'],
  ['US', 'United States', 'America/Los_Angeles'], ['BR', 'Brazil', 'America/Sao_Paulo'], ['IN', 'India', 'Asia/Kolkata'],
  ['JP', 'Japan', 'Asia/Tokyo'], ['AU', 'Australia', 'Australia/Sydney'], ['NL', 'Netherlands', 'Europe/Amsterdam'],
  ['ES', 'Spain', 'Europe/Madrid'], ['IT', 'Italy', 'Europe/Rome'], ['PL', 'Poland', 'Europe/Warsaw'],
  ['CA', 'Canada', 'America/Toronto'], ['MX', 'Mexico', 'America/Mexico_City'], ['ZA', 'South Africa', 'Africa/Johannesburg'],
  ['SG', 'Singapore', 'Asia/Singapore'], ['SE', 'Sweden', 'Europe/Stockholm'], ['KR', 'South Korea', 'Asia/Seoul'],
];
const CITIES = [
  'Springfield', 'Riverside', 'Franklin', 'Greenville', 'Bristol', 'Clinton', 'Fairview', 'Salem', 'Madison',
  'Georgetown', 'Arlington', 'Ashland', 'Burlington', 'Manchester', 'Milton', 'Newport', 'Oxford', 'Dover',
  'Hudson', 'Kingston', 'Marion', 'Lexington', 'Auburn', 'Dayton', 'Jackson', 'Winchester', 'Lancaster',
];
const ORGS = [
  'Deutsche Telekom AG', 'Orange S.A.', 'Comcast Cable', 'Vodafone GmbH', 'Amazon.com, Inc.', 'Google LLC',
  'Hetzner Online GmbH', 'OVH SAS', 'Reliance Jio', 'NTT Communications', 'Telstra', 'Claro S.A.',
  'Charter Communications', 'Telefonica de Espana', 'DigitalOcean, LLC', 'Cloudflare, Inc.',
];

const random = rng(0x6e0);
const ranges = buildRangeTable(RANGES);

function buildRangeTable(count) {
  const table = [];
  const step = Math.floor(0xdfffffff / count);
  let start = 0x01000000;
  for (let i = 0; i < count; i++) {
    const size = Math.max(256, Math.floor(step * (0.5 + random())));
    const [country, countryName, timezone] = COUNTRIES[Math.floor(random() * COUNTRIES.length)];
    table.push({
      start,
      end: start + size - 1,
      prefix: 32 - Math.floor(Math.log2(size)),
      country,
      countryName,
      timezone,
      region: `${country}-${1 + Math.floor(random() * 16)}`,
      city: CITIES[Math.floor(random() * CITIES.length)],
      postalCode: String(10000 + Math.floor(random() * 89999)),
      latitude: Math.round((random() * 140 - 60) * 1e4) / 1e4,
      longitude: Math.round((random() * 340 - 170) * 1e4) / 1e4,
      accuracyRadius: [5, 10, 20, 50, 100, 200][Math.floor(random() * 6)],
      asn: 1000 + Math.floor(random() * 60000),
      org: ORGS[Math.floor(random() * ORGS.length)],
      anonymousProxy: random() < 0.01,
    });
    start += size;
  }
  return table;
}

// --- Hot helpers --------------------------------------------------------------

function ipToInt(ip) {
  const parts = ip.split('.');
  if (parts.length !== 4) return -1;
  let value = 0;
  for (const part of parts) {
    const octet = Number(part);
    if (!Number.isInteger(octet) || octet < 0 || octet > 255) return -1;
    value = value * 256 + octet;
  }
  return value;
}

function intToIp(value) {
  return `${(value >>> 24) & 255}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
}

function findRange(ipNum) {
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const range = ranges[mid];
    if (ipNum < range.start) hi = mid - 1;
    else if (ipNum > range.end) lo = mid + 1;
    else return range;
  }
  return null;
}

/** The parsed result of one lookup (what the API returns and memoizes). */
function buildGeoRecord(ip, range) {
  return {
    ip,
    network: `${intToIp(range.start)}/${range.prefix}`,
    country: range.country,
    countryName: range.countryName,
    region: range.region,
    city: range.city,
    postalCode: range.postalCode,
    location: { latitude: range.latitude, longitude: range.longitude, accuracyRadius: range.accuracyRadius },
    timezone: range.timezone,
    asn: `AS${range.asn}`,
    org: range.org,
    isAnonymousProxy: range.anonymousProxy,
    resolvedAt: new Date().toISOString(),
  };
}

// --- The memo (the leak) ------------------------------------------------------

/** ip -> parsed lookup result; "lookups are immutable, cache them forever". */
const lookupCache = new Map();
const counters = { lookups: 0, memoHits: 0, notFound: 0, badRequests: 0 };

function lookup(ip) {
  counters.lookups++;
  const cached = lookupCache.get(ip);
  if (cached !== undefined) {
    counters.memoHits++;
    return cached;
  }
  const ipNum = ipToInt(ip);
  if (ipNum < 0) return undefined;
  const range = findRange(ipNum);
  if (range === null) return null;
  const record = buildGeoRecord(ip, range);
  lookupCache.set(ip, record);
  return record;
}

function sendJson(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function handler(req, res) {
  const url = new URL(req.url, 'http://geo.internal');
  if (req.method === 'GET' && url.pathname === '/v1/lookup') {
    const ip = url.searchParams.get('ip') ?? '';
    const record = lookup(ip);
    if (record === undefined) {
      counters.badRequests++;
      return sendJson(res, 400, { error: 'invalid ip' });
    }
    if (record === null) {
      counters.notFound++;
      return sendJson(res, 404, { error: 'not found', ip });
    }
    const fields = url.searchParams.get('fields');
    if (fields === 'country') return sendJson(res, 200, { ip, country: record.country });
    return sendJson(res, 200, record);
  }
  if (req.method === 'GET' && url.pathname === '/healthz') return sendJson(res, 200, { ok: true });
  sendJson(res, 404, { error: 'no route' });
}

// --- Start --------------------------------------------------------------------

const ballastMb = buildBallast();
const { port } = await listen(handler);

const clientRandom = rng(0x9e0);
const recurring = Array.from({ length: RECURRING_CLIENTS }, () => randomPublicIp(clientRandom));

function randomPublicIp(r) {
  return intToIp(0x01000000 + Math.floor(r() * 0xdf000000));
}

function nextRequest() {
  const ip = clientRandom() < SHARE_FROM_RECURRING
    ? recurring[Math.floor(clientRandom() * recurring.length)]
    : randomPublicIp(clientRandom);
  const fields = clientRandom() < 0.3 ? '&fields=country' : '';
  return { method: 'GET', path: `/v1/lookup?ip=${ip}${fields}` };
}

const client = selfRequests(port, { perSecond: REQUESTS_PER_SECOND, next: nextRequest });

reportStats(() => ({
  retained: lookupCache.size,
  memoEntries: lookupCache.size,
  lookups: counters.lookups,
  memoHits: counters.memoHits,
  requests: client.completed,
  failed: client.failed,
}));

ready(`geo-lookup-memo-leak: geo/IP lookup API, ${REQUESTS_PER_SECOND} req/s, results memoized per IP in lookupCache (never evicted); ballast ${ballastMb} MB`);
