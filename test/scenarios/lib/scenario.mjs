// Shared runtime for the scenario programs in this folder: timeline
// compression, pacing, periodic stats, self-generated HTTP load and a clean
// SIGTERM/SIGINT shutdown. No dependencies; every scenario imports only this.
//
// Env (all optional):
//   SCENARIO_SPEED     float > 0, default 1. Compresses the timeline: rates are
//                      multiplied by it and phase durations divided by it, so
//                      the amounts at the end of each phase do not change.
//   SCENARIO_ONSET     seconds (wall clock, NOT scaled) before a leak starts;
//                      each leaky scenario has its own default.
//   SCENARIO_STATS_MS  interval of the `stats {...}` stdout line, default 1000.
//
// Stdout protocol: `ready` once the program runs, then one line per interval:
//   stats {"t":12.3,"retained":4567,...,"heapUsed":…,"external":…,"arrayBuffers":…,"rss":…}
// `retained` is the number of units held by the structure the scenario is
// about (queue entries, listeners, cache entries, bytes, ...); the README says
// which.
import http from 'node:http';

function envNumber(name, fallback, isValid) {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || !isValid(value)) {
    process.stderr.write(`invalid ${name}=${JSON.stringify(raw)}\n`);
    process.exit(2);
  }
  return value;
}

export const speed = envNumber('SCENARIO_SPEED', 1, (v) => v > 0);
const statsIntervalMs = envNumber('SCENARIO_STATS_MS', 1000, (v) => v >= 10);

/** Seconds before the leak starts: SCENARIO_ONSET, or this scenario's default. */
export function onsetSeconds(defaultSeconds) {
  return envNumber('SCENARIO_ONSET', defaultSeconds, (v) => v >= 0);
}

/** A phase length given at speed 1, in wall-clock milliseconds at the current speed. */
export function scaledMs(secondsAtSpeed1) {
  return (secondsAtSpeed1 * 1000) / speed;
}

const startedAt = performance.now();
/** Wall-clock seconds since the program started. */
export function elapsedSeconds() {
  return (performance.now() - startedAt) / 1000;
}

const intervals = new Set();
const closers = [];

/** setInterval that shutdown clears. */
export function every(ms, fn) {
  const timer = setInterval(fn, Math.max(1, ms));
  intervals.add(timer);
  return timer;
}

/** Registers cleanup (close servers, destroy agents) to run on shutdown. */
export function onShutdown(fn) {
  closers.push(fn);
}

/**
 * Calls `work(n)` every `tickMs` with the number of units due, so that on
 * average `rate() × SCENARIO_SPEED` units run per second whatever the timer
 * jitter. `rate` is a number or a function (for rates that change by phase).
 * At most one second of backlog is carried, so a stalled loop does not burst.
 */
export function paced(rate, work, tickMs = 20) {
  const ratePerSecond = typeof rate === 'function' ? rate : () => rate;
  let last = performance.now();
  let owed = 0;
  return every(tickMs, () => {
    const now = performance.now();
    const perSecond = ratePerSecond() * speed;
    owed = Math.min(owed + ((now - last) / 1000) * perSecond, Math.max(1, perSecond));
    last = now;
    const due = Math.floor(owed);
    if (due > 0) {
      owed -= due;
      work(due);
    }
  });
}

/** Prints a `stats` line every SCENARIO_STATS_MS with `collect()` and process.memoryUsage(). */
export function reportStats(collect) {
  every(statsIntervalMs, () => {
    const { heapUsed, heapTotal, external, arrayBuffers, rss } = process.memoryUsage();
    const t = Math.round(elapsedSeconds() * 1000) / 1000;
    const line = JSON.stringify({ t, ...collect(), heapUsed, heapTotal, external, arrayBuffers, rss });
    process.stdout.write(`stats ${line}\n`);
  });
}

/** Announces readiness (the test harness waits for this line). */
export function ready(description) {
  process.stdout.write(`ready\n${description}\n`);
}

/**
 * Starts `handler` on 127.0.0.1:0 and resolves with the server and its port.
 * The server is closed on shutdown.
 */
export function listen(handler) {
  const server = http.createServer(handler);
  onShutdown(() => {
    server.close();
    server.closeAllConnections();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve({ server, port: server.address().port }));
  });
}

/**
 * Sends GET requests for `nextPath()` to 127.0.0.1:`port` at `perSecond`
 * (× speed) over a keep-alive agent, never more than `maxInFlight` at once,
 * reading and dropping each response body. Returns a counter snapshot.
 */
export function selfLoad(port, { perSecond, nextPath, maxInFlight = 16 }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: maxInFlight });
  onShutdown(() => agent.destroy());
  const counters = { sent: 0, completed: 0, inFlight: 0 };
  paced(perSecond, (due) => {
    for (let i = 0; i < due && counters.inFlight < maxInFlight; i++) {
      counters.inFlight++;
      counters.sent++;
      let finished = false;
      const done = () => {
        if (finished) return;
        finished = true;
        counters.inFlight--;
        counters.completed++;
      };
      const req = http.get({ host: '127.0.0.1', port, path: nextPath(), agent }, (res) => {
        res.resume();
        res.on('end', done);
      });
      req.on('error', done); // best effort: e.g. while shutting down
    }
  });
  return counters;
}

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  for (const timer of intervals) clearInterval(timer);
  for (const close of closers) {
    try {
      close();
    } catch {
      // shutting down anyway
    }
  }
  // Explicit: with an inspector client attached Node would otherwise wait for
  // it to disconnect.
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
