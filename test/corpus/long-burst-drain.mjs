// Healthy, long bursts: a search-index updater whose in-process work queue
// builds up during long traffic bursts (30, 60 and 90 minutes: catalogue
// imports, sales) and drains back to empty afterwards, then repeats.
//
// Index updates arrive at 10/s normally and 40/s during a burst; the indexer
// handles 25/s. So the queue grows by ~15 jobs/s during a burst and drains at
// ~15 jobs/s afterwards, back to empty well before the next burst.
// Schedule (speed-1 minutes, repeating every 6 h 40 min): calm 10, burst 30,
// calm 60, burst 60, calm 90, burst 90, calm 60... Peaks: ~27 000 jobs
// (~24 MB, ~870 B per job) after the 30-min burst, ~81 000 (~70 MB) after
// the 90-min one.
// At SCENARIO_SPEED=60 the first burst runs from 10 s to 40 s and the queue
// is empty again at ~70 s.
// stats: retained = queued jobs.
import { buildBallast, paced, programSeconds, ready, reportStats, rng } from './lib/corpus.mjs';

const BASE_RATE = 10;
const BURST_RATE = 40;
const INDEX_RATE = 25;
const SCHEDULE_MINUTES = [
  ['calm', 10],
  ['burst', 30],
  ['calm', 60],
  ['burst', 60],
  ['calm', 90],
  ['burst', 90],
  ['calm', 60],
];
const CYCLE_MINUTES = SCHEDULE_MINUTES.reduce((sum, [, minutes]) => sum + minutes, 0);

function phaseAt(seconds) {
  let minute = (seconds / 60) % CYCLE_MINUTES;
  for (const [phase, minutes] of SCHEDULE_MINUTES) {
    if (minute < minutes) return phase;
    minute -= minutes;
  }
  return 'calm';
}

const ballastMB = buildBallast();
const pending = [];
const indexer = { indexed: 0, documents: 0, peak: 0 };
const random = rng(13);
let updateSeq = 0;

function makeUpdate() {
  const productId = Math.floor(random() * 400_000);
  const fields = {};
  for (const name of ['title', 'brand', 'category', 'description']) fields[name] = `${name} of product ${productId} rev ${updateSeq}`;
  return {
    id: ++updateSeq,
    op: updateSeq % 9 === 0 ? 'delete' : 'upsert',
    productId,
    fields,
    prices: [random() * 100, random() * 100, random() * 100],
    stockByWarehouse: [productId % 17, productId % 5, productId % 31, productId % 11],
    enqueuedAt: Date.now(),
  };
}

function indexDocument(update) {
  const tokens = update.op === 'delete' ? [] : `${update.fields.title} ${update.fields.brand} ${update.fields.category}`.split(' ');
  indexer.documents += tokens.length > 0 ? 1 : -1;
  indexer.indexed++;
}

paced(() => (phaseAt(programSeconds()) === 'burst' ? BURST_RATE : BASE_RATE), (due) => {
  for (let i = 0; i < due; i++) pending.push(makeUpdate());
  if (pending.length > indexer.peak) indexer.peak = pending.length;
});
paced(INDEX_RATE, (due) => {
  for (let i = 0; i < due && pending.length > 0; i++) indexDocument(pending.shift());
});

reportStats(() => ({ retained: pending.length, phase: phaseAt(programSeconds()), indexed: indexer.indexed, ballastMB }));
ready('long-burst-drain: queue builds during 30–90 min bursts and drains to empty afterwards');
