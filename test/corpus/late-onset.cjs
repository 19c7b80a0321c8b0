// Leaky (heap), late onset: a market-data gateway that is healthy for hours,
// until its upstream starts dropping connections and every reconnect leaves a
// listener (and the connection context it closes over) on a process-wide
// emitter.
//
// The gateway holds one streaming session to an upstream price feed and fans
// ticks out to its own subscribers. Sessions subscribe to `configBus` (the
// process-wide emitter on which config reloads are announced) so they can pick
// up new batch sizes. closeSession() would remove that listener, but the
// reconnect path (added for the feed's maintenance windows, never exercised
// before) calls openSession() for the replacement without closing the old one.
//
// Before the onset (default 3 h of production time, SCENARIO_ONSET in speed-1
// seconds) the upstream is stable: flat heap, only tick churn. From the
// onset on the upstream (in a crash loop) drops the session ~11 times a second
// and the gateway reconnects at once: each reconnect retains a closure over a
// ~1 KB context → ~40 MB/h of JS heap.
// Cap: after 150 000 reconnects (~155 MB, ~3.8 h after the onset at speed 1,
// ~3.8 min at SCENARIO_SPEED=60) the gateway gives up reconnecting.
// stats: retained = listeners on configBus.
'use strict';
const { EventEmitter } = require('node:events');

const ONSET_DEFAULT_SECONDS = 3 * 3600;
const TICKS_PER_SECOND = 40;
const DROPS_PER_SECOND = 11;
const MAX_RECONNECTS = 150_000;
const CONFIG_RELOAD_SECONDS = 300;
const SYMBOLS = ['AAPL', 'MSFT', 'NVDA', 'AMZN', 'GOOG', 'META', 'TSLA', 'ASML', 'SAP', 'SIE', 'NESN', 'ROG', 'MC', 'OR', 'AIR', 'BMW'];

const configBus = new EventEmitter();
configBus.setMaxListeners(0); // every session listens; the warning was noise

const gateway = { session: null, reconnects: 0, gaveUp: false, ticks: 0, delivered: 0 };
let sessionSeq = 0;

// A (simulated) upstream connection: emits 'tick' and 'close'.
class UpstreamConnection extends EventEmitter {
  constructor(id) {
    super();
    this.id = id;
    this.open = true;
  }

  drop(reason) {
    if (!this.open) return;
    this.open = false;
    this.emit('close', reason);
  }
}

function openSession(attempt) {
  const id = ++sessionSeq;
  const ctx = {
    id,
    attempt,
    openedAt: Date.now(),
    connectionId: `feed-${id.toString(36)}-${attempt}`,
    symbols: SYMBOLS.slice(),
    lastSeq: new Array(SYMBOLS.length).fill(0),
    pendingAcks: new Array(48).fill(-1),
    options: { batchSize: 50, compression: 'deflate', heartbeatMs: 15_000, region: 'eu-central-1' },
    counters: { ticks: 0, gaps: 0, bytes: 0 },
  };
  const connection = new UpstreamConnection(ctx.connectionId);
  const onConfig = (config) => {
    ctx.options.batchSize = config.batchSize;
    ctx.options.heartbeatMs = config.heartbeatMs;
  };
  configBus.on('config', onConfig);
  connection.on('tick', (tick) => handleTick(ctx, tick));
  connection.on('close', () => reconnect(ctx));
  return { ctx, connection, onConfig };
}

function closeSession(session) {
  configBus.off('config', session.onConfig);
  session.connection.removeAllListeners();
}

function handleTick(ctx, tick) {
  const index = tick.symbolIndex;
  if (tick.seq !== ctx.lastSeq[index] + 1 && ctx.lastSeq[index] !== 0) ctx.counters.gaps++;
  ctx.lastSeq[index] = tick.seq;
  ctx.counters.ticks++;
  gateway.delivered += tick.price > 0 ? 1 : 0;
}

function reconnect(oldCtx) {
  if (gateway.reconnects >= MAX_RECONNECTS) {
    gateway.gaveUp = true; // degraded: no feed until an operator restarts us
    gateway.session = null;
    return;
  }
  gateway.reconnects++;
  // BUG: the old session is not closed; its configBus listener stays.
  gateway.session = openSession(oldCtx.attempt + 1);
}

async function main() {
  const lib = await import('./lib/corpus.mjs');
  const onsetMs = lib.onsetMs(ONSET_DEFAULT_SECONDS);
  const ballastMB = lib.buildBallast();
  gateway.session = openSession(0);

  const seqs = new Array(SYMBOLS.length).fill(0);
  lib.paced(TICKS_PER_SECOND, (due) => {
    for (let i = 0; i < due; i++) {
      const session = gateway.session;
      if (session === null) return;
      const symbolIndex = gateway.ticks++ % SYMBOLS.length;
      const payload = JSON.stringify({ s: SYMBOLS[symbolIndex], seq: ++seqs[symbolIndex], px: 100 + Math.sin(gateway.ticks) * 5, ts: Date.now() });
      const raw = JSON.parse(payload);
      session.connection.emit('tick', { symbolIndex, seq: raw.seq, price: raw.px, at: raw.ts });
    }
  });

  // From the onset on, the upstream drops the session again and again.
  const startedAt = performance.now();
  lib.paced(() => (performance.now() - startedAt >= onsetMs ? DROPS_PER_SECOND : 0), (due) => {
    for (let i = 0; i < due && gateway.session !== null; i++) gateway.session.connection.drop('ECONNRESET');
  });

  let reloads = 0;
  lib.every(lib.scaledMs(CONFIG_RELOAD_SECONDS), () => {
    reloads++;
    configBus.emit('config', { batchSize: 40 + (reloads % 3) * 10, heartbeatMs: 15_000 });
  });

  lib.reportStats(() => ({
    retained: configBus.listenerCount('config'),
    capped: gateway.gaveUp,
    leaking: performance.now() - startedAt >= onsetMs,
    reconnects: gateway.reconnects,
    ballastMB,
  }));
  lib.ready(`late-onset: reconnects leak a configBus listener from ${onsetMs / 1000} s (wall) on`);
}

main();

module.exports = { closeSession }; // used by the graceful-restart path
