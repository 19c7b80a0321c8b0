// Leaky (heap, held by timers): a feed poller that starts a setInterval per
// subscription and, when the subscription ends, only marks it inactive. The
// interval keeps running (returning early) and its closure keeps the
// subscription's ~2 KB polling state alive forever.
//
// Clients of a live-news widget subscribe to feeds over the gateway's socket
// hub (simulated here), stay ~10 minutes and leave. startPolling() keeps, per
// subscription, its cursor, ETag and the last items it pushed, and polls the
// feed every 5 minutes (speed 1). stopPolling() flips `active` but never calls
// clearInterval().
//
// Speed 1: 4.2 new subscriptions/s (~2 500 live), ~2 KB of state each →
// ~30 MB/h of JS heap retained by leaked timers from the start (after the
// first ~10 min, when subscriptions start ending). Cap: 40 000 timers (the
// gateway's "max pollers" guard counts started timers, so it then refuses new
// subscriptions; ~80 MB, after ~2.6 h at speed 1, ~2.6 min at
// SCENARIO_SPEED=60).
// stats: retained = intervals started and never cleared for ended subscriptions.
'use strict';
const { EventEmitter } = require('node:events');

const SUBSCRIBES_PER_SECOND = 4.2;
const SUBSCRIPTION_SECONDS = 600;
const POLL_EVERY_SECONDS = 300;
const MAX_POLLERS = 40_000;
const ITEMS_KEPT = 8;
const FEEDS = ['world', 'europe', 'markets', 'tech', 'science', 'sport', 'culture', 'climate', 'politics', 'health'];

const hub = new EventEmitter(); // the socket gateway's subscribe/unsubscribe events
const subscriptions = new Map();
const pollers = { started: 0, stopped: 0, polls: 0, idlePolls: 0, refused: 0 };
let feedVersion = 0;

function fetchFeed(feed, cursor) {
  // Simulated upstream: a few new items since the cursor.
  const items = [];
  const count = 1 + ((cursor + feed.length) % 3);
  for (let i = 0; i < count; i++) {
    const id = cursor + i + 1;
    items.push({ id, title: `${feed}: update ${id} on the developing story`, publishedAt: Date.now() });
  }
  return { etag: `W/"${feed}-${++feedVersion}"`, items };
}

function startPolling(subscriptionId, clientId, feed, pollMs) {
  const state = {
    subscriptionId,
    clientId,
    feed,
    active: true,
    cursor: 0,
    etag: null,
    startedAt: Date.now(),
    lastPolledAt: 0,
    pushed: 0,
    lastItems: [],
  };
  for (let i = 0; i < ITEMS_KEPT; i++) {
    state.lastItems.push({ id: i, title: `${feed}: backfill item ${i} for ${clientId}`, publishedAt: state.startedAt });
  }
  state.timer = setInterval(() => {
    if (!state.active) {
      pollers.idlePolls++;
      return;
    }
    pollers.polls++;
    const result = fetchFeed(state.feed, state.cursor);
    state.etag = result.etag;
    state.lastPolledAt = Date.now();
    for (const item of result.items) {
      state.cursor = item.id;
      state.lastItems.push(item);
      state.pushed++;
    }
    state.lastItems.splice(0, state.lastItems.length - ITEMS_KEPT);
  }, pollMs);
  pollers.started++;
  return state;
}

function stopPolling(state) {
  state.active = false; // BUG: clearInterval(state.timer) is missing
  pollers.stopped++;
}

hub.on('subscribe', ({ subscriptionId, clientId, feed, pollMs }) => {
  if (pollers.started >= MAX_POLLERS) {
    pollers.refused++;
    return;
  }
  subscriptions.set(subscriptionId, startPolling(subscriptionId, clientId, feed, pollMs));
});

hub.on('unsubscribe', ({ subscriptionId }) => {
  const state = subscriptions.get(subscriptionId);
  if (state === undefined) return;
  subscriptions.delete(subscriptionId);
  stopPolling(state);
});

async function main() {
  const lib = await import('./lib/corpus.mjs');
  const ballastMB = lib.buildBallast();
  const pollMs = lib.scaledMs(POLL_EVERY_SECONDS);
  const lifetimeMs = lib.scaledMs(SUBSCRIPTION_SECONDS);
  const random = lib.rng(10);
  const leaving = []; // [endsAt, subscriptionId], in order
  let seq = 0;
  lib.paced(SUBSCRIBES_PER_SECOND, (due) => {
    const now = performance.now();
    for (let i = 0; i < due; i++) {
      const subscriptionId = `sub-${(++seq).toString(36)}`;
      hub.emit('subscribe', { subscriptionId, clientId: `client-${Math.floor(random() * 1e6)}`, feed: FEEDS[seq % FEEDS.length], pollMs });
      leaving.push([now + lifetimeMs * (0.5 + random()), subscriptionId]);
    }
    leaving.sort((a, b) => a[0] - b[0]);
    while (leaving.length > 0 && leaving[0][0] <= now) hub.emit('unsubscribe', { subscriptionId: leaving.shift()[1] });
  });

  lib.reportStats(() => ({
    retained: pollers.stopped,
    live: subscriptions.size,
    capped: pollers.started >= MAX_POLLERS,
    polls: pollers.polls,
    ballastMB,
  }));
  lib.ready('closure-timer-leak: ended subscriptions keep their setInterval and ~2 KB state (~30 MB/h at speed 1)');
}

main();
