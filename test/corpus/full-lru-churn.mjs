// Healthy, full cache with constant churn: a clickstream enricher that parses
// each event's user-agent string, caching parses in an LRU (closure-based,
// Map insertion order) of 30 000 entries. The cache is restored full from the
// previous process's snapshot at start, and user-agent strings vary so much
// (browser builds, app versions) that ~70 % of lookups miss: every miss evicts
// the least recently used entry. Full and flat for the whole run.
//
// Speed 1: 40 events/s, ~28 misses/s, 30 000 entries of ~620 B (~18 MB).
// stats: retained = entries in the LRU.
import { buildBallast, paced, ready, reportStats, rng } from './lib/corpus.mjs';

const CAPACITY = 30_000;
const EVENTS_PER_SECOND = 40;

function createLru(capacity) {
  const entries = new Map();
  const stats = { hits: 0, misses: 0, evictions: 0 };
  return {
    stats,
    get size() {
      return entries.size;
    },
    get(key) {
      const value = entries.get(key);
      if (value === undefined) {
        stats.misses++;
        return undefined;
      }
      stats.hits++;
      entries.delete(key);
      entries.set(key, value);
      return value;
    },
    set(key, value) {
      entries.delete(key);
      if (entries.size >= capacity) {
        entries.delete(entries.keys().next().value);
        stats.evictions++;
      }
      entries.set(key, value);
    },
  };
}

const BROWSERS = [
  ['Chrome', 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v} Safari/537.36'],
  ['Firefox', 'Mozilla/5.0 (X11; Linux x86_64; rv:{v}) Gecko/20100101 Firefox/{v}'],
  ['Safari', 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_{v} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1'],
  ['ShopApp', 'ShopApp/{v} (Android 14; Pixel 8; build {v}) okhttp/4.12.0'],
];

function userAgentFor(random) {
  const [name, template] = BROWSERS[Math.floor(random() * BROWSERS.length)];
  // A popular head of versions plus a long tail of builds.
  const version = random() < 0.3 ? `${120 + Math.floor(random() * 6)}.0` : `${100 + Math.floor(random() * 30)}.${Math.floor(random() * 5000)}.${Math.floor(random() * 200)}`;
  return { name, ua: template.replaceAll('{v}', version) };
}

function parseUserAgent(ua) {
  const mobile = /Mobile|Android|iPhone/.test(ua);
  const os = ua.includes('Windows') ? 'Windows' : ua.includes('iPhone') ? 'iOS' : ua.includes('Android') ? 'Android' : 'Linux';
  const match = /(Chrome|Firefox|Version|ShopApp)\/([\d.]+)/.exec(ua);
  const versionParts = match ? match[2].split('.').map(Number) : [];
  return {
    source: ua,
    browser: match ? (match[1] === 'Version' ? 'Safari' : match[1]) : 'unknown',
    version: match ? match[2] : '',
    major: versionParts[0] ?? 0,
    os,
    mobile,
    bot: /bot|crawler|spider/i.test(ua),
    engine: ua.includes('Gecko/') ? 'Gecko' : ua.includes('AppleWebKit') ? 'WebKit' : 'other',
    tokens: ua.split(/[\s;()]+/).filter(Boolean).slice(0, 8),
  };
}

const userAgents = createLru(CAPACITY);
const random = rng(18);
const ballastMB = buildBallast();
// Restore the snapshot: start full.
while (userAgents.size < CAPACITY) {
  const { ua } = userAgentFor(random);
  userAgents.set(ua, parseUserAgent(ua));
}

const enriched = { events: 0, mobile: 0 };
paced(EVENTS_PER_SECOND, (due) => {
  for (let i = 0; i < due; i++) {
    const event = JSON.parse(JSON.stringify({ type: 'page_view', path: `/p/${Math.floor(random() * 15_000)}`, ua: userAgentFor(random).ua, at: Date.now() }));
    let agent = userAgents.get(event.ua);
    if (agent === undefined) {
      agent = parseUserAgent(event.ua);
      userAgents.set(event.ua, agent);
    }
    enriched.events++;
    if (agent.mobile) enriched.mobile++;
  }
});

reportStats(() => ({ retained: userAgents.size, hits: userAgents.stats.hits, evictions: userAgents.stats.evictions, ballastMB }));
ready(`full-lru-churn: a full ${CAPACITY}-entry LRU with constant churn, flat`);
