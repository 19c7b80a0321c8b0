// Telemetry ingester for a rental-equipment fleet (leak from a firmware rollout).
//
// Generators, compressors, light towers and pumps stream 1 Hz engine telemetry
// while they run, uploaded every 60 s through their cellular modem. The
// ingester keeps a DeviceBuffer per running unit in the module-level Map
// `devices` with the unit's last 5 minutes of readings (for the live view,
// alarms and the "last known state" API), trimmed with slice() on every upload.
// A unit that is switched off says goodbye and is removed. A unit that drops
// off (coverage lost, battery cut, e-stop) is reported by the MQTT bridge when
// its keepalive runs out: `POST /v1/presence {clientId, state: "offline"}`, and
// the ingester removes the device with that id. Nothing else removes devices:
// the broker's presence is the source of truth.
//
// From the onset (SCENARIO_ONSET, default 2 h) firmware 6.0.1 is rolled out to
// 60 % of the fleet (installed when a unit next powers up). 6.0 connects with
// its per-device certificate, so its MQTT client id (and therefore the last
// will the bridge forwards) is the unit's serial number, not its device id.
// The ingester finds no device under that id, answers 404, and the unit's
// buffer stays in `devices` for good, with its last 5 minutes of readings.
//
// Traffic: ~250 sessions/h of 5 min-4 h (median 40 min) from a fleet of
// 20 000 units, plus shift starts at big sites (30-80 units within 10
// minutes, running 30-90 minutes) every 60-120 minutes; 22 % of sessions end
// without a goodbye.
import {
  buildBallast,
  every,
  listen,
  onsetSeconds,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  scaledMs,
  selfRequests,
} from '../corpus/lib/corpus.mjs';

const EPOCH_S = Date.UTC(2024, 2, 11, 6, 0, 0) / 1000;
const BUFFER_SECONDS = 300;
const ONSET_S = onsetSeconds(7200);

function nowS() {
  return EPOCH_S + programSeconds();
}

// --- The ingester ---------------------------------------------------------------

const ALARM_LOW_OIL = 1;
const ALARM_HOT = 2;
const ALARM_LOW_FUEL = 4;
const ALARM_UNDERVOLT = 8;

function alarmsOf(oilKpa, coolantC, fuelPct, outputV) {
  return (oilKpa < 140 ? ALARM_LOW_OIL : 0) | (coolantC > 104 ? ALARM_HOT : 0) | (fuelPct < 8 ? ALARM_LOW_FUEL : 0) | (outputV > 0 && outputV < 207 ? ALARM_UNDERVOLT : 0);
}

/** One wire row [unixSeconds, rpm, oilKpa, coolantC, fuelPct, loadPct, outputV] -> a reading. */
function toReading(row) {
  const [t, rpm, oilKpa, coolantC, fuelPct, loadPct, outputV] = row;
  return { at: t * 1000, rpm, oilKpa, coolantC, fuelPct, loadPct, outputV, alarms: alarmsOf(oilKpa, coolantC, fuelPct, outputV) };
}

class DeviceBuffer {
  constructor(deviceId, hello, now) {
    this.deviceId = deviceId;
    this.serial = hello.serial;
    this.model = hello.model;
    this.site = hello.site;
    this.firmware = hello.fw;
    this.readings = [];
    this.firstSeenAt = now;
    this.lastSeenAt = now;
    this.lastSeq = 0;
    this.uploads = 0;
    this.alarms = 0;
  }

  append(rows, seq, now) {
    for (const row of rows) {
      const reading = toReading(row);
      this.alarms |= reading.alarms;
      this.readings.push(reading);
    }
    this.lastSeq = seq;
    this.lastSeenAt = now;
    this.uploads++;
    trimBuffer(this);
  }

  latest() {
    return this.readings.length === 0 ? null : this.readings[this.readings.length - 1];
  }
}

/** Keeps the last BUFFER_SECONDS of readings (by the unit's clock). */
function trimBuffer(device) {
  const { readings } = device;
  if (readings.length === 0) return;
  const cutoff = readings[readings.length - 1].at - BUFFER_SECONDS * 1000;
  let first = 0;
  while (first < readings.length && readings[first].at <= cutoff) first++;
  if (first > 0) device.readings = readings.slice(first);
}

const devices = new Map(); // deviceId -> DeviceBuffer

/** Session summaries handed to the cold store (stand-in: the last 500 kept for the API). */
const recentSessions = [];
function retireDevice(device, reason, now) {
  devices.delete(device.deviceId);
  const first = device.readings[0];
  const last = device.latest();
  recentSessions.push({
    deviceId: device.deviceId,
    site: device.site,
    reason,
    startedAt: device.firstSeenAt,
    endedAt: now,
    uploads: device.uploads,
    fuelUsedPct: first && last ? Math.max(0, first.fuelPct - last.fuelPct) : 0,
    alarms: device.alarms,
  });
  if (recentSessions.length > 500) recentSessions.splice(0, recentSessions.length - 500);
}

const counters = { hellos: 0, revived: 0, uploads: 0, readings: 0, goodbyes: 0, presenceOffline: 0, presenceUnknown: 0, unknownUploads: 0, queries: 0 };

function sendJson(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handle(req, res) {
  const parts = req.url.split('?')[0].split('/'); // ['', 'v1', 'devices', id, action]
  const now = nowS();
  if (req.method === 'POST' && parts[2] === 'devices' && parts.length === 5) {
    const body = JSON.parse((await readBody(req, 1024 * 1024)).toString('utf8'));
    const deviceId = parts[3];
    const action = parts[4];
    if (action === 'hello') {
      counters.hellos++;
      const existing = devices.get(deviceId);
      if (existing !== undefined) {
        counters.revived++;
        existing.firmware = body.fw;
        existing.lastSeenAt = now;
      } else devices.set(deviceId, new DeviceBuffer(deviceId, body, now));
      return sendJson(res, 200, { ok: true, uploadEvery: 60 });
    }
    const device = devices.get(deviceId);
    if (device === undefined) {
      counters.unknownUploads++;
      return sendJson(res, 404, { error: 'unknown device, send hello' });
    }
    if (action === 'telemetry') {
      counters.uploads++;
      counters.readings += body.readings.length;
      device.append(body.readings, body.seq, now);
      return sendJson(res, 202, { ok: true, seq: body.seq });
    }
    if (action === 'goodbye') {
      counters.goodbyes++;
      retireDevice(device, 'shutdown', now);
      return sendJson(res, 200, { ok: true });
    }
    return sendJson(res, 404, { error: 'unknown action' });
  }
  if (req.method === 'POST' && parts[2] === 'presence') {
    const body = JSON.parse((await readBody(req, 64 * 1024)).toString('utf8'));
    if (body.state !== 'offline') return sendJson(res, 204, {});
    const device = devices.get(body.clientId);
    if (device === undefined) {
      counters.presenceUnknown++;
      return sendJson(res, 404, { error: 'unknown device' });
    }
    counters.presenceOffline++;
    retireDevice(device, body.reason, now);
    return sendJson(res, 200, { ok: true });
  }
  if (req.method === 'GET' && parts[2] === 'devices' && parts[4] === 'latest') {
    counters.queries++;
    const device = devices.get(parts[3]);
    if (device === undefined) return sendJson(res, 404, { error: 'not running' });
    return sendJson(res, 200, { deviceId: device.deviceId, model: device.model, site: device.site, lastSeenAt: device.lastSeenAt, reading: device.latest(), alarms: device.alarms });
  }
  if (req.method === 'GET' && parts[2] === 'sites') {
    counters.queries++;
    const site = parts[3];
    let running = 0;
    let alarms = 0;
    let load = 0;
    for (const device of devices.values()) {
      if (device.site !== site) continue;
      running++;
      alarms |= device.alarms;
      load += device.latest()?.loadPct ?? 0;
    }
    return sendJson(res, 200, { site, running, alarms, meanLoadPct: running ? load / running : 0 });
  }
  if (req.method === 'GET' && parts[2] === 'sessions') {
    counters.queries++;
    return sendJson(res, 200, { sessions: recentSessions.slice(-20) });
  }
  if (parts[1] === 'healthz') return sendJson(res, 200, { ok: true, devices: devices.size });
  sendJson(res, 404, { error: 'not found' });
}

const { port } = await listen((req, res) => {
  handle(req, res).catch((err) => {
    if (!res.headersSent) sendJson(res, 400, { error: String(err.message) });
    else res.destroy();
  });
});

// --- The fleet (in-process stand-ins: units, their modems and the MQTT bridge) ----

const FLEET_SIZE = 20000;
const MODELS = ['gen-20kva', 'gen-60kva', 'gen-150kva', 'comp-185cfm', 'tower-led4', 'pump-4in'];
const SITES = Array.from({ length: 140 }, (_, i) => `site-${(1000 + i * 37).toString(36)}`);
const fleetRng = rng(0xf1ee7);
const fleet = [];
for (let i = 0; i < FLEET_SIZE; i++) {
  fleet.push({
    deviceId: `${MODELS[i % MODELS.length].slice(0, 3).toUpperCase()}-${String(100000 + i)}`,
    serial: `SN${(0x5a000000 + i * 2654435761).toString(16).slice(-8).toUpperCase()}`,
    model: MODELS[i % MODELS.length],
    fw: fleetRng() < 0.85 ? '5.4.2' : '5.3.7',
    inRolloutRing: fleetRng() < 0.6,
    running: false,
  });
}

const SESSIONS_PER_HOUR = 250;
const UNCLEAN_SHARE = 0.22;
const sim = { sessions: 0, running: 0, fw6Sessions: 0, cleanEnds: 0, uncleanEnds: 0, uncleanFw6: 0, bursts: 0 };

function gaussian(random) {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/** Min-heap of pending device actions by time. */
const actions = [];
function schedule(action) {
  actions.push(action);
  let i = actions.length - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (actions[parent].at <= actions[i].at) break;
    [actions[parent], actions[i]] = [actions[i], actions[parent]];
    i = parent;
  }
}
function nextAction() {
  const top = actions[0];
  const last = actions.pop();
  if (actions.length > 0) {
    actions[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < actions.length && actions[l].at < actions[m].at) m = l;
      if (r < actions.length && actions[r].at < actions[m].at) m = r;
      if (m === i) break;
      [actions[m], actions[i]] = [actions[i], actions[m]];
      i = m;
    }
  }
  return top;
}

function startSession(at, durationS, site, connectAt = at) {
  let unit = fleet[Math.floor(fleetRng() * FLEET_SIZE)];
  while (unit.running) unit = fleet[Math.floor(fleetRng() * FLEET_SIZE)];
  if (at >= ONSET_S && unit.inRolloutRing) unit.fw = '6.0.1';
  unit.running = true;
  sim.sessions++;
  sim.running++;
  if (unit.fw.startsWith('6.')) sim.fw6Sessions++;
  const session = {
    unit,
    site,
    startedAt: at,
    endsAt: at + durationS,
    unclean: fleetRng() < UNCLEAN_SHARE,
    seq: 0,
    sentUpTo: Math.floor(connectAt),
    random: rng(0x5e55 + sim.sessions * 7919),
    rpm: unit.model.startsWith('gen') ? 1500 : 1800,
    fuelPct: 35 + fleetRng() * 65,
    coolantC: 40,
    loadPct: 20 + fleetRng() * 60,
  };
  schedule({ at: connectAt, kind: 'hello', session });
  schedule({ at: connectAt + 60, kind: 'telemetry', session });
}

function sessionLengthS() {
  return Math.min(4 * 3600, Math.max(300, 2400 * Math.exp(0.7 * gaussian(fleetRng))));
}

// The ingester has just been deployed: the units already running reconnect
// within its first two minutes (sessions that started in the last 4 hours).
for (let at = -4 * 3600; at < 0; at += (-Math.log(1 - fleetRng()) * 3600) / SESSIONS_PER_HOUR) {
  const durationS = sessionLengthS();
  const site = SITES[Math.floor(fleetRng() * SITES.length)];
  if (at + durationS > 150) startSession(at, durationS, site, fleetRng() * 120);
}

let nextArrivalAt = 0;
const burstRng = rng(0xb0257);
let nextBurstAt = 1800 + burstRng() * 3000;

every(scaledMs(5), () => {
  const t = programSeconds();
  while (nextArrivalAt <= t + 5) {
    startSession(nextArrivalAt, sessionLengthS(), SITES[Math.floor(fleetRng() * SITES.length)]);
    nextArrivalAt += (-Math.log(1 - fleetRng()) * 3600) / SESSIONS_PER_HOUR;
  }
  if (t + 5 >= nextBurstAt) {
    // a shift starts at a big site (a concrete pour, an event build): 30-80
    // units within 10 minutes, running 30-90 minutes
    sim.bursts++;
    const units = 30 + Math.floor(burstRng() * 51);
    const site = SITES[Math.floor(burstRng() * 12)];
    const shiftS = 1800 + burstRng() * 3600;
    for (let i = 0; i < units; i++) startSession(nextBurstAt + burstRng() * 600, shiftS * (0.8 + 0.2 * burstRng()), site);
    nextBurstAt += 3600 + burstRng() * 3600;
  }
});

/** 1 Hz rows from the session's engine model for [from, to). */
function readingsFor(session, from, to) {
  const rows = [];
  const r = session.random;
  for (let t = from; t < to; t++) {
    session.loadPct = Math.min(100, Math.max(5, session.loadPct + (r() - 0.5) * 4));
    session.coolantC = Math.min(108, session.coolantC + (88 + session.loadPct / 10 - session.coolantC) * 0.01 + (r() - 0.5) * 0.4);
    session.fuelPct = Math.max(0, session.fuelPct - 0.0004 * (1 + session.loadPct / 50));
    const rpm = Math.round(session.rpm + (r() - 0.5) * 30);
    const oilKpa = Math.round(280 + session.loadPct * 0.8 + (r() - 0.5) * 20);
    const outputV = session.unit.model.startsWith('gen') ? Math.round((230 - session.loadPct * 0.08 + (r() - 0.5) * 2) * 10) / 10 : 0;
    rows.push([EPOCH_S + t, rpm, oilKpa, Math.round(session.coolantC * 10) / 10, Math.round(session.fuelPct * 10) / 10, Math.round(session.loadPct), outputV]);
  }
  return rows;
}

function post(path, body) {
  return { method: 'POST', path, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

function endSession(session) {
  session.unit.running = false;
  sim.running--;
}

function deviceRequest() {
  if (actions.length === 0 || actions[0].at > programSeconds()) return null;
  const { at, kind, session } = nextAction();
  const { unit } = session;
  if (kind === 'hello') return post(`/v1/devices/${unit.deviceId}/hello`, { fw: unit.fw, serial: unit.serial, model: unit.model, site: session.site });
  if (kind === 'telemetry') {
    const end = Math.min(Math.floor(at), Math.floor(session.endsAt));
    const rows = readingsFor(session, session.sentUpTo, end);
    session.sentUpTo = end;
    session.seq++;
    if (at + 60 < session.endsAt) schedule({ at: at + 60, kind: 'telemetry', session });
    else if (session.unclean) {
      // the modem goes dark before its next upload; the broker notices 1.5 keepalives later
      schedule({ at: session.endsAt + 90, kind: 'lastWill', session });
    } else schedule({ at: session.endsAt, kind: 'goodbye', session });
    return post(`/v1/devices/${unit.deviceId}/telemetry`, { seq: session.seq, fw: unit.fw, readings: rows });
  }
  if (kind === 'goodbye') {
    // final partial upload, then goodbye
    const rows = readingsFor(session, session.sentUpTo, Math.floor(session.endsAt));
    session.sentUpTo = Math.floor(session.endsAt);
    session.seq++;
    schedule({ at: at + 2, kind: 'bye', session });
    return post(`/v1/devices/${unit.deviceId}/telemetry`, { seq: session.seq, fw: unit.fw, readings: rows });
  }
  if (kind === 'bye') {
    sim.cleanEnds++;
    endSession(session);
    return post(`/v1/devices/${unit.deviceId}/goodbye`, { reason: 'operator-stop' });
  }
  // lastWill: forwarded by the MQTT bridge with the connection's client id
  sim.uncleanEnds++;
  const fw6 = unit.fw.startsWith('6.');
  if (fw6) sim.uncleanFw6++;
  endSession(session);
  return post('/v1/presence', { clientId: fw6 ? unit.serial : unit.deviceId, state: 'offline', reason: 'keepalive-timeout' });
}

const deviceClient = selfRequests(port, {
  perSecond: () => 3 + sim.running / 25,
  next: deviceRequest,
  maxInFlight: 128,
});

// operators: live view of a unit, site dashboards, recent sessions, health checks
const opsRng = rng(0x0b5);
const opsClient = selfRequests(port, {
  perSecond: 0.4,
  next: () => {
    const r = opsRng();
    if (r < 0.5) return { method: 'GET', path: `/v1/devices/${fleet[Math.floor(opsRng() * FLEET_SIZE)].deviceId}/latest` };
    if (r < 0.85) return { method: 'GET', path: `/v1/sites/${SITES[Math.floor(opsRng() * SITES.length)]}/summary` };
    if (r < 0.95) return { method: 'GET', path: '/v1/sessions/recent' };
    return { method: 'GET', path: '/healthz' };
  },
  maxInFlight: 8,
});

const ballastMb = buildBallast();
ready(`equipment telemetry ingester on 127.0.0.1:${port}, firmware 6.0 rollout at ${ONSET_S} s${ballastMb ? `, ballast ${ballastMb} MB` : ''}`);

reportStats(() => {
  let readingsHeld = 0;
  let fw6Held = 0;
  let stale = 0;
  let staleReadings = 0;
  for (const device of devices.values()) {
    if (!fleet[Number(device.deviceId.slice(4)) - 100000].running) {
      stale++;
      staleReadings += device.readings.length;
    }
    readingsHeld += device.readings.length;
    if (device.firmware.startsWith('6.')) fw6Held++;
  }
  return {
    retained: devices.size,
    running: sim.running,
    stale,
    staleReadings,
    readingsHeld,
    fw6Held,
    sessions: sim.sessions,
    fw6Sessions: sim.fw6Sessions,
    cleanEnds: sim.cleanEnds,
    uncleanEnds: sim.uncleanEnds,
    uncleanFw6: sim.uncleanFw6,
    bursts: sim.bursts,
    ...counters,
    sent: deviceClient.sent + opsClient.sent,
    failed: deviceClient.failed + opsClient.failed,
  };
});
