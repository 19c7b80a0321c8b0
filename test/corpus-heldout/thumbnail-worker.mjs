// Thumbnail worker (healthy): uploads POST a job to /jobs; the job sits in an
// in-memory queue (`queue.jobs`) until one of 4 workers takes it; each job
// takes ~0.67 s (speed 1) of (simulated) image work, so capacity is ~6 jobs/s.
//
// Load is 4 jobs/s, except for a 45-min campaign window every 3 h (speed 1;
// the first from 20 to 65 min) at 8 jobs/s: the queue grows ~2 jobs/s during
// the window (to ~5 400 jobs, ~10 MB) and drains back to empty within ~45 min
// after it. Nothing is kept once a job is done.
// At SCENARIO_SPEED=60: window at 20–65 s, empty again by ~110 s, next window
// at 200 s.
// stats: retained = jobs waiting in the queue.
import { createHash } from 'node:crypto';
import { buildBallast, listen, programSeconds, readBody, ready, reportStats, rng, scaledMs, selfRequests } from '../corpus/lib/corpus.mjs';

const BASE_PER_SECOND = 4;
const PERIOD_SECONDS = 3 * 3600;
const WINDOW_START_SECONDS = 20 * 60;
const WINDOW_SECONDS = 45 * 60;
const WORKERS = 4;
const JOB_SECONDS = 0.667;

class JobQueue {
  constructor() {
    this.jobs = [];
    this.waiting = [];
    this.accepted = 0;
    this.done = 0;
  }

  push(job) {
    this.accepted++;
    const waiter = this.waiting.shift();
    if (waiter !== undefined) waiter(job);
    else this.jobs.push(job);
  }

  take() {
    const job = this.jobs.shift();
    if (job !== undefined) return Promise.resolve(job);
    return new Promise((resolve) => this.waiting.push(resolve));
  }
}

const queue = new JobQueue();

function toJob(body, receivedAt) {
  const request = JSON.parse(body);
  return { id: request.uploadId, receivedAt, source: request.source, sizes: request.sizes, meta: request.meta, exif: request.exif };
}

// The image work is simulated: each worker is busy for JOB_SECONDS per job,
// measured on its own clock so timer lateness does not eat into capacity.
async function renderThumbnails(job, slot) {
  const hash = createHash('sha1');
  for (const size of job.sizes) hash.update(`${job.source}:${size.w}x${size.h}`);
  slot.busyUntil += scaledMs(JOB_SECONDS);
  await new Promise((resolve) => setTimeout(resolve, slot.busyUntil - performance.now()));
  return hash.digest('hex');
}

async function worker() {
  const slot = { busyUntil: 0 };
  for (;;) {
    const idle = queue.jobs.length === 0;
    const job = await queue.take();
    const now = performance.now();
    if (idle || now - slot.busyUntil > 1000) slot.busyUntil = now; // start the clock afresh after idling
    await renderThumbnails(job, slot);
    queue.done++;
  }
}
for (let i = 0; i < WORKERS; i++) worker();

const ballastMB = buildBallast();
const { port } = await listen(async (req, res) => {
  if (req.method !== 'POST' || req.url !== '/jobs') return res.writeHead(404).end();
  queue.push(toJob(await readBody(req), Date.now()));
  res.writeHead(202).end();
});

function inWindow() {
  const t = programSeconds() % PERIOD_SECONDS;
  return t >= WINDOW_START_SECONDS && t < WINDOW_START_SECONDS + WINDOW_SECONDS;
}

const random = rng(88);
let uploadSeq = 0;
function uploadRequest() {
  uploadSeq++;
  const exif = {};
  for (let i = 0; i < 40; i++) exif[`Tag${0x100 + i}`] = `${Math.floor(random() * 1e6)}`;
  return {
    method: 'POST',
    path: '/jobs',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      uploadId: `up-${uploadSeq}`,
      source: `s3://uploads/2024/${uploadSeq % 12}/${uploadSeq.toString(36)}-${Math.floor(random() * 1e9).toString(36)}.jpg`,
      sizes: [{ w: 64, h: 64 }, { w: 160, h: 160 }, { w: 320, h: 240 }, { w: 640, h: 480 }, { w: 1280, h: 960 }],
      meta: { owner: `u-${Math.floor(random() * 90000)}`, album: `a-${uploadSeq % 700}`, caption: `Holiday photo ${uploadSeq} — ${'beach and sunset, '.repeat(1 + (uploadSeq % 4))}` },
      exif,
    }),
  };
}
selfRequests(port, { perSecond: () => (inWindow() ? 2 * BASE_PER_SECOND : BASE_PER_SECOND), next: uploadRequest });

reportStats(() => ({ retained: queue.jobs.length, campaign: inWindow(), accepted: queue.accepted, done: queue.done, ballastMB }));
ready(`thumbnail-worker: ${BASE_PER_SECOND} jobs/s (speed 1), doubled for 45 min every 3 h; capacity ~${Math.round(WORKERS / JOB_SECONDS)} jobs/s`);
