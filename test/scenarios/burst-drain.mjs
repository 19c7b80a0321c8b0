// Healthy: load bursts build a queue that drains back to empty.
//
// A job queue with a worker pool that can process 300 jobs/s (speed 1).
// Normal load is 50 jobs/s. Every 40 s (speed 1), starting at 5 s, a 10 s
// burst arrives at 600 jobs/s: the queue grows by ~300 jobs/s to ~3 000 jobs
// (~12 MB), then drains at ~250 jobs/s in ~12 s and stays empty until the next
// burst. Raw heap rises for 10 s like a leak would, and then comes back.
// stats: retained = jobs waiting in the queue; phase = quiet | burst.
import { elapsedSeconds, paced, ready, reportStats, speed } from './lib/scenario.mjs';

const BASE_JOBS_PER_SECOND = 50;
const BURST_JOBS_PER_SECOND = 600;
const WORKER_JOBS_PER_SECOND = 300;
const FIRST_BURST_AT_SECONDS = 5; // at speed 1
const BURST_EVERY_SECONDS = 40; // at speed 1
const BURST_SECONDS = 10; // at speed 1
const PAYLOAD_VALUES = 500;

const queue = [];
let queueHead = 0;
let submitted = 0;
let completed = 0;

function inBurst() {
  const t = elapsedSeconds() * speed - FIRST_BURST_AT_SECONDS; // timeline at speed 1
  return t >= 0 && t % BURST_EVERY_SECONDS < BURST_SECONDS;
}

function submitJob() {
  submitted++;
  const payload = new Array(PAYLOAD_VALUES);
  for (let i = 0; i < PAYLOAD_VALUES; i++) payload[i] = (submitted * 17 + i) % 1_000;
  queue.push({ id: submitted, kind: submitted % 4 === 0 ? 'thumbnail' : 'invoice', enqueuedAt: Date.now(), payload });
}

function runJob(job) {
  let digest = 0;
  for (const value of job.payload) digest = (digest * 33 + value) | 0;
  completed++;
  return { id: job.id, digest, tookMs: Date.now() - job.enqueuedAt };
}

function queueLength() {
  return queue.length - queueHead;
}

paced(() => (inBurst() ? BURST_JOBS_PER_SECOND : BASE_JOBS_PER_SECOND), (due) => {
  for (let i = 0; i < due; i++) submitJob();
});
paced(WORKER_JOBS_PER_SECOND, (due) => {
  for (let i = 0; i < due && queueLength() > 0; i++) {
    runJob(queue[queueHead]);
    queue[queueHead++] = undefined;
  }
  // Compact the array-backed queue once its consumed prefix dominates.
  if (queueHead > 1_024 && queueHead * 2 > queue.length) {
    queue.splice(0, queueHead);
    queueHead = 0;
  }
});
reportStats(() => ({ retained: queueLength(), phase: inBurst() ? 'burst' : 'quiet', submitted, completed }));
ready('burst-drain: bursts every 40 s (speed 1) build a queue that drains');
