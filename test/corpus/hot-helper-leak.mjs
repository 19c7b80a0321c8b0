// Leaky (heap): a recommendation API that logs every slate it shows in a
// module-level Map until a click joins it, and most slates are never clicked.
//
// GET /v1/recommendations?user=… scores 200 candidate items and answers the
// top 12. For counterfactual evaluation the whole slate (ids and scores) is
// kept as an "exposure" keyed by a unique exposure id; POST /v1/clicks joins a
// click to its exposure and deletes it. The 30-minute expiry sweep was never
// scheduled, so the ~97 % of exposures that get no click stay forever. The
// entries are built by the tiny helper toEntry(), called on every request (V8
// inlines it into the handler).
//
// Speed 1: 8.5 req/s, ~3.5 KB per exposure → ~100 MB/h of JS heap from the
// start. Cap: 60 000 exposures (~210 MB, after ~2 h at speed 1, ~2 min at
// SCENARIO_SPEED=60); then new exposures are not logged.
// stats: retained = exposures waiting for a click.
import { buildBallast, listen, ready, reportStats, rng, selfRequests } from './lib/corpus.mjs';

const REQUESTS_PER_SECOND = 8.5;
const CANDIDATES = 200;
const SHOWN = 12;
const CLICK_RATE = 0.03;
const MAX_EXPOSURES = 60_000;

const exposures = new Map();
let exposureSeq = 0;
const ballastMB = buildBallast();

function toEntry(userId, variant, slate) {
  return { id: `${userId}:${++exposureSeq}`, userId, variant, at: Date.now(), itemIds: slate.ids.slice(), scores: slate.scores.slice() };
}

function scoreCandidates(userId, random) {
  const ids = new Array(CANDIDATES);
  const scores = new Array(CANDIDATES);
  for (let i = 0; i < CANDIDATES; i++) {
    ids[i] = (userId * 31 + i * 977) % 250_000;
    scores[i] = Math.round(random() * 1e6) / 1e6 + 0.001;
  }
  return { ids, scores };
}

function topItems(slate) {
  const order = slate.ids.map((id, i) => i).sort((a, b) => slate.scores[b] - slate.scores[a]);
  return order.slice(0, SHOWN).map((i) => ({ itemId: slate.ids[i], score: slate.scores[i] }));
}

const serverRandom = rng(5);
function recommend(url, res) {
  const userId = Number(url.searchParams.get('user'));
  const variant = userId % 2 === 0 ? 'ranker-v7' : 'ranker-v8';
  const slate = scoreCandidates(userId, serverRandom);
  const entry = toEntry(userId, variant, slate);
  if (exposures.size < MAX_EXPOSURES) exposures.set(entry.id, entry);
  const body = JSON.stringify({ exposureId: entry.id, variant, items: topItems(slate) });
  res.writeHead(200, { 'content-type': 'application/json' }).end(body);
}

function click(url, res) {
  const exposureId = url.searchParams.get('exposure');
  const exposure = exposures.get(exposureId);
  if (exposure === undefined) return res.writeHead(404).end();
  exposures.delete(exposureId);
  res.writeHead(204).end();
}

const { port } = await listen((req, res) => {
  const url = new URL(req.url, 'http://localhost');
  if (url.pathname === '/v1/recommendations') return recommend(url, res);
  if (url.pathname === '/v1/clicks' && req.method === 'POST') return click(url, res);
  res.writeHead(404).end();
});

const clientRandom = rng(55);
const pendingClicks = [];
selfRequests(port, {
  perSecond: REQUESTS_PER_SECOND,
  next: () => {
    if (pendingClicks.length > 0) return { method: 'POST', path: `/v1/clicks?exposure=${encodeURIComponent(pendingClicks.pop())}` };
    return { method: 'GET', path: `/v1/recommendations?user=${Math.floor(clientRandom() * 80_000)}` };
  },
  onResponse: (status, text) => {
    if (status === 200 && clientRandom() < CLICK_RATE) pendingClicks.push(JSON.parse(text).exposureId);
  },
});

reportStats(() => ({ retained: exposures.size, capped: exposures.size >= MAX_EXPOSURES, ballastMB }));
ready('hot-helper-leak: exposures built by toEntry() are kept until a click that mostly never comes (~100 MB/h at speed 1)');
