// Healthy, restarted often: an IP-routing service that loads its prefix table
// during a 3-minute warm-up (speed 1), then only answers lookups; its
// supervisor recycles it every ~20 minutes. Here the program exits 0 by itself
// after SCENARIO_LIFETIME_S (speed-1 seconds, default 1200) and the harness
// starts it again (manifest: restartEverySeconds). Every lifetime starts with
// the same ramp; within a lifetime the heap is flat after the warm-up.
//
// Speed 1: 60 000 prefixes (~40 MB) loaded over 180 s, then 6 req/s of
// lookups over HTTP on 127.0.0.1. At SCENARIO_SPEED=60: 3 s of warm-up, exit
// after 20 s.
// stats: retained = prefixes loaded.
import { buildBallast, envNumber, every, listen, ready, reportStats, rng, scaledMs, selfRequests } from './lib/corpus.mjs';

const PREFIXES = 60_000;
const WARM_UP_SECONDS = 180;
const LOOKUPS_PER_SECOND = 6;
const LOAD_TICK_MS = 50;
const lifetimeSeconds = envNumber('SCENARIO_LIFETIME_S', 1200, (v) => v > 0);

const routes = [];

function loadPrefix(index) {
  const nextHops = [];
  for (let i = 0; i < 4; i++) nextHops.push({ gateway: `10.${index % 250}.${i}.1`, weight: 1 + ((index + i) % 4), asn: 64_512 + ((index * 7 + i) % 1_000) });
  return { start: index * 4096, end: index * 4096 + 4095, cidr: `${(index >> 8) & 255}.${index & 255}.0.0/20`, pop: `pop-${index % 40}`, nextHops };
}

function lookup(address) {
  let low = 0;
  let high = routes.length - 1;
  while (low <= high) {
    const mid = (low + high) >> 1;
    const route = routes[mid];
    if (address < route.start) high = mid - 1;
    else if (address > route.end) low = mid + 1;
    else return route;
  }
  return null;
}

const ballastMB = buildBallast();
const ticks = Math.max(1, Math.round(scaledMs(WARM_UP_SECONDS) / LOAD_TICK_MS));
const perTick = Math.ceil(PREFIXES / ticks);
const loader = every(LOAD_TICK_MS, () => {
  const end = Math.min(PREFIXES, routes.length + perTick);
  while (routes.length < end) routes.push(loadPrefix(routes.length));
  if (routes.length >= PREFIXES) clearInterval(loader);
});

const { port } = await listen((req, res) => {
  const address = Number(new URL(req.url, 'http://localhost').searchParams.get('ip'));
  const route = lookup(address);
  if (route === null) return res.writeHead(404).end('{"error":"no route"}');
  const hop = route.nextHops[address % route.nextHops.length];
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ cidr: route.cidr, pop: route.pop, gateway: hop.gateway, asn: hop.asn }));
});
const random = rng(16);
selfRequests(port, { perSecond: LOOKUPS_PER_SECOND, next: () => ({ method: 'GET', path: `/route?ip=${Math.floor(random() * PREFIXES * 4096)}` }) });

// The supervisor's recycle: a graceful exit (0) at the end of the lifetime.
setTimeout(() => process.kill(process.pid, 'SIGTERM'), scaledMs(lifetimeSeconds)).unref();

reportStats(() => ({ retained: routes.length, ballastMB }));
ready(`restarts-often: ${PREFIXES} prefixes over ${WARM_UP_SECONDS} s (speed 1), exits after ${lifetimeSeconds} s (speed 1)`);
