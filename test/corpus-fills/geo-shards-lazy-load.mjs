// Geo-IP lookup service (GET /v1/lookup?ip=a.b.c.d). A small always-loaded
// index maps every /16 block to its country; the city-level data (IP ranges
// and the cities they belong to) is split into one shard per country, read
// from the data directory and parsed lazily by the first request that needs
// it, then kept in the module-level Map `shards` for the life of the process.
//
// Traffic is 2 lookups/s: most of it from the big markets (a Zipf-like
// spread over 150 countries), ~2.5 % from everywhere (bots, VPN exits,
// travellers). The big shards load in the first minutes, the smaller
// countries' shards one by one after that, the last ones after ~2 hours;
// then every shard is in memory and nothing more is loaded.
import { buildBallast, listen, programSeconds, ready, reportStats, rng, selfRequests, speed } from '../corpus/lib/corpus.mjs';

const random = rng(0x9e0195);

const COUNTRIES = (
  'US CN DE GB JP FR IN BR KR IT CA ES RU NL AU MX PL TR SE ID CH BE TW AR AT NO DK IE FI PT SG ZA TH IL MY VN UA CZ RO CO ' +
  'CL PH NZ HU GR SA AE EG PK NG BD PE KZ HK SK BG HR RS LT SI LV EE MA DZ TN KE VE EC UY LU IS CY MT BY IR IQ QA KW OM BH ' +
  'JO LB GE AM AZ MD BA MK AL ME LK NP KH LA MM MN BO PY CR PA GT HN SV NI DO JM TT PR CU GH CI SN CM ET TZ UG RW ZM ZW ' +
  'MZ AO BW NA MG MU SC LY SD BF ML NE TD GA CG CD BJ TG LR SL GN GM MW LS SZ BI DJ ER SO FJ PG BN MV BT'
).split(' ');

// --- the always-loaded /16 index ------------------------------------------------

const BLOCKS = 65536;
/** /16 block -> country index + 1 (0 = unallocated) */
const blockCountry = new Uint8Array(BLOCKS);
/** blocks of each country, for the clients */
const countryBlocks = COUNTRIES.map(() => []);

(function buildIndex() {
  const share = COUNTRIES.map((_, i) => 1 / (i + 1));
  const total = share.reduce((a, b) => a + b, 0);
  const order = [];
  COUNTRIES.forEach((_, i) => {
    const blocks = Math.max(6, Math.round((18_000 * share[i]) / total));
    for (let b = 0; b < blocks; b++) order.push(i);
  });
  // scatter the countries' blocks over the address space (allocations are not contiguous)
  const shuffle = rng(0x1b10c);
  for (let k = order.length - 1; k > 0; k--) {
    const j = Math.floor(shuffle() * (k + 1));
    [order[k], order[j]] = [order[j], order[k]];
  }
  const stride = (BLOCKS - 256) / order.length; // skip 0.0.0.0/8
  order.forEach((country, k) => {
    const block = 256 + Math.floor(k * stride);
    blockCountry[block] = country + 1;
    countryBlocks[country].push(block);
  });
})();

// --- shard files (stand-in for the data directory) and their parser ---------------------

const SYLLABLES = ['ka', 'ro', 'len', 'mar', 'sto', 'vi', 'na', 'bur', 'gen', 'tal', 'po', 'ri', 'san', 'del', 'mo', 'ha', 'ber', 'ton', 'lia', 'ku'];
const REGIONS = ['North', 'South', 'East', 'West', 'Central', 'Upper', 'Lower', 'Coast', 'Highlands', 'Valley'];

function placeName(seed) {
  let s = seed >>> 0;
  let name = '';
  for (let i = 0; i < 2 + (seed % 3); i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    name += SYLLABLES[(s >>> 8) % SYLLABLES.length];
  }
  return name[0].toUpperCase() + name.slice(1);
}

/** The shard file of a country as the data pipeline writes it: a cities section, then the ranges. */
function readShardFile(country) {
  const code = COUNTRIES[country];
  const blocks = countryBlocks[country];
  const cityCount = Math.min(2500, 15 + blocks.length * 2);
  const lines = [`# geo shard ${code} v2024.11`, '[cities]'];
  for (let c = 0; c < cityCount; c++) {
    const seed = country * 100_003 + c;
    const lat = (((seed * 7919) % 1_600_000) / 10_000 - 80).toFixed(4);
    const lon = (((seed * 104_729) % 3_600_000) / 10_000 - 180).toFixed(4);
    lines.push(`${seed},${placeName(seed)},${REGIONS[seed % REGIONS.length]} ${placeName(seed >> 3)},${code}-${1000 + (seed % 9000)},${lat},${lon},${code === 'US' ? 'America/Chicago' : `Etc/${code}`},${5 + (seed % 200)}`);
  }
  lines.push('[ranges]');
  for (const block of blocks) {
    const parts = 4 + ((block * 13) % 9);
    const size = Math.floor(65536 / parts);
    for (let p = 0; p < parts; p++) {
      const start = block * 65536 + p * size;
      const end = p === parts - 1 ? block * 65536 + 65535 : start + size - 1;
      lines.push(`${start},${end},${(block * 31 + p * 7) % cityCount}`);
    }
  }
  return lines.join('\n');
}

/** Parses a shard file into sorted ranges pointing at city records. */
function parseShard(country, text) {
  const cities = [];
  const ranges = [];
  let section = '';
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    if (line.startsWith('[')) {
      section = line;
      continue;
    }
    const f = line.split(',');
    if (section === '[cities]') {
      cities.push({ geonameId: Number(f[0]), city: f[1], region: f[2], postal: f[3], latitude: Number(f[4]), longitude: Number(f[5]), timeZone: f[6], accuracyKm: Number(f[7]) });
    } else {
      ranges.push({ start: Number(f[0]), end: Number(f[1]), city: cities[Number(f[2])] });
    }
  }
  ranges.sort((a, b) => a.start - b.start);
  return { country: COUNTRIES[country], cities, ranges, loadedAt: programSeconds() };
}

/** country index -> loaded shard */
const shards = new Map();
const loads = { count: 0, ranges: 0, lastLoadedAt: 0 };

function shardFor(country) {
  let shard = shards.get(country);
  if (shard === undefined) {
    shard = parseShard(country, readShardFile(country));
    shards.set(country, shard);
    loads.count++;
    loads.ranges += shard.ranges.length;
    loads.lastLoadedAt = programSeconds();
  }
  return shard;
}

function findRange(ranges, ip) {
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const range = ranges[mid];
    if (ip < range.start) hi = mid - 1;
    else if (ip > range.end) lo = mid + 1;
    else return range;
  }
  return undefined;
}

function parseIp(text) {
  const parts = text.split('.');
  if (parts.length !== 4) return -1;
  let ip = 0;
  for (const part of parts) {
    const octet = Number(part);
    if (!Number.isInteger(octet) || octet < 0 || octet > 255) return -1;
    ip = ip * 256 + octet;
  }
  return ip;
}

// --- HTTP ----------------------------------------------------------------------------

function sendJson(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://geo.local');
  if (url.pathname === '/healthz') return sendJson(res, 200, { ok: true, shards: shards.size });
  if (url.pathname !== '/v1/lookup') return sendJson(res, 404, { error: 'not found' });
  const ipText = url.searchParams.get('ip') ?? '';
  const ip = parseIp(ipText);
  if (ip < 0) return sendJson(res, 400, { error: 'bad ip' });
  const country = blockCountry[Math.floor(ip / 65536)] - 1;
  if (country < 0) return sendJson(res, 200, { ip: ipText, country: null });
  const range = findRange(shardFor(country).ranges, ip);
  const city = range?.city;
  sendJson(res, 200, {
    ip: ipText,
    country: COUNTRIES[country],
    city: city?.city ?? null,
    region: city?.region ?? null,
    postal: city?.postal ?? null,
    location: city === undefined ? null : { latitude: city.latitude, longitude: city.longitude, accuracyKm: city.accuracyKm, timeZone: city.timeZone },
  });
}

// --- clients ------------------------------------------------------------------------------

const trafficWeights = COUNTRIES.map((_, i) => 1 / (i + 1) ** 1.6);
const trafficTotal = trafficWeights.reduce((a, b) => a + b, 0);
const BACKGROUND = 0.025;

function pickCountry() {
  if (random() < BACKGROUND) return Math.floor(random() * COUNTRIES.length);
  let x = random() * trafficTotal;
  for (let i = 0; i < trafficWeights.length; i++) {
    x -= trafficWeights[i];
    if (x <= 0) return i;
  }
  return 0;
}

function nextLookup() {
  if (random() < 0.02) return { method: 'GET', path: '/healthz' };
  const blocks = countryBlocks[pickCountry()];
  const block = blocks[Math.floor(random() * blocks.length)];
  const low = Math.floor(random() * 65536);
  const ip = `${block >>> 8}.${block & 255}.${low >>> 8}.${low & 255}`;
  return { method: 'GET', path: `/v1/lookup?ip=${ip}` };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);
const clients = selfRequests(port, { perSecond: 2, maxInFlight: 16, next: nextLookup });

reportStats(() => ({
  retained: shards.size,
  rangesLoaded: loads.ranges,
  lastShardAt: Math.round(loads.lastLoadedAt),
  requestsFailed: clients.failed,
}));

ready(`geo-shards-lazy-load: geo-IP lookups, ${COUNTRIES.length} country shards parsed lazily on first use (all loaded after ~2 h), 2 lookups/s (speed ${speed}, ballast ${ballastMb} MB, port ${port})`);
