// Device-shadow service of a cold-chain logistics company. Every parcel gets
// a disposable tracker (GPS, temperature, shock) for the leg it travels; the
// trackers report through depot and vehicle gateways, which upload batches
// of reports over HTTP. The service keeps each tracker's shadow (last
// reported state, desired configuration, per-field metadata) in memory for
// the dashboards and the alerting rules.
//
// The device registry tells the service when a tracker is decommissioned
// (the leg ended and the tracker went back for recycling; recycled trackers
// are re-provisioned under a new id). onDecommission() removes the tracker
// from the registry's `activeDevices` and stops its alert rules - but the
// ShadowStore's Map `shadows` keeps its entry, so every tracker that ever
// reported stays in memory. New ids keep arriving (~1 800 legs an hour),
// old ones are never removed.
import {
  buildBallast,
  every,
  listen,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0xde71ce);
const LEGS_PER_HOUR = 1800;
const REPORT_INTERVAL_S = 60;

// --- the shadow store -------------------------------------------------------------------------------

class ShadowStore {
  constructor() {
    this.shadows = new Map();
    this.updates = 0;
  }

  get(deviceId) {
    return this.shadows.get(deviceId);
  }

  applyReport(report, gatewayId) {
    let shadow = this.shadows.get(report.deviceId);
    if (shadow === undefined) {
      shadow = createShadow(report.deviceId, report.shipmentId, report.ts);
      this.shadows.set(report.deviceId, shadow);
    }
    mergeReported(shadow, report, gatewayId);
    this.updates++;
    return shadow;
  }
}

/** A new shadow: the document the dashboards and the device SDK see. */
function createShadow(deviceId, shipmentId, ts) {
  return {
    deviceId,
    shipmentId,
    thingType: 'ct-tracker-v3',
    version: 0,
    createdAt: ts,
    lastSeen: ts,
    connection: { gatewayId: null, rssi: null, connectedAt: ts },
    reported: {},
    desired: {
      reportIntervalS: REPORT_INTERVAL_S,
      tempAlarm: { minC: 2, maxC: 8, hysteresisC: 0.5 },
      shockAlarmG: 4,
      geofence: { kind: 'corridor', routeId: `R-${shipmentId.slice(-4)}`, widthM: 2500 },
      firmware: 'ct3-2.14.1',
    },
    metadata: { reported: {}, desired: { reportIntervalS: { timestamp: ts }, tempAlarm: { timestamp: ts } } },
    delta: null,
  };
}

/** Merges one report into the shadow's `reported` section, with per-field timestamps. */
function mergeReported(shadow, report, gatewayId) {
  const { reported, metadata } = shadow;
  for (const key of REPORTED_FIELDS) {
    const value = report.state[key];
    if (value === undefined) continue;
    reported[key] = value;
    const meta = metadata.reported[key];
    if (meta === undefined) metadata.reported[key] = { timestamp: report.ts };
    else meta.timestamp = report.ts;
  }
  shadow.version++;
  shadow.lastSeen = report.ts;
  shadow.connection.gatewayId = gatewayId;
  shadow.connection.rssi = report.rssi;
  shadow.delta = report.state.firmware !== shadow.desired.firmware ? { firmware: shadow.desired.firmware } : null;
}

const REPORTED_FIELDS = ['location', 'tempC', 'humidityPct', 'shockG', 'lightLux', 'batteryPct', 'batteryMv', 'firmware', 'cellId', 'door'];

const store = new ShadowStore();

// --- registry and alerting ----------------------------------------------------------------------------

/** deviceId -> { shipmentId, provisionedAt } for trackers currently on a leg. */
const activeDevices = new Map();
const alertRules = new Map();
const alerts = { raised: 0, recent: [] };
const lifecycle = { provisioned: 0, decommissioned: 0 };

function onProvision(deviceId, shipmentId) {
  activeDevices.set(deviceId, { shipmentId, provisionedAt: programSeconds() });
  alertRules.set(deviceId, { tempOutOfRangeSince: null });
  lifecycle.provisioned++;
}

function onDecommission(deviceId) {
  activeDevices.delete(deviceId);
  alertRules.delete(deviceId);
  lifecycle.decommissioned++;
  // (the shadow is "kept for the dashboards" - and never removed)
}

function evaluateAlerts(shadow) {
  const rule = alertRules.get(shadow.deviceId);
  if (rule === undefined) return;
  const t = shadow.reported.tempC;
  const { minC, maxC } = shadow.desired.tempAlarm;
  if (t < minC || t > maxC) {
    if (rule.tempOutOfRangeSince === null) rule.tempOutOfRangeSince = shadow.lastSeen;
    else if (shadow.lastSeen - rule.tempOutOfRangeSince > 900) {
      alerts.raised++;
      alerts.recent.push({ deviceId: shadow.deviceId, kind: 'temp', at: shadow.lastSeen });
      if (alerts.recent.length > 100) alerts.recent.shift();
      rule.tempOutOfRangeSince = shadow.lastSeen;
    }
  } else rule.tempOutOfRangeSince = null;
}

// --- HTTP ----------------------------------------------------------------------------------------------

function sendJson(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://shadows.local');
  const parts = url.pathname.split('/');
  try {
    if (url.pathname === '/healthz') return sendJson(res, 200, { ok: true });
    if (req.method === 'POST' && parts[1] === 'v1' && parts[2] === 'gateways' && parts[4] === 'reports') {
      const batch = JSON.parse((await readBody(req)).toString('utf8'));
      let accepted = 0;
      for (const report of batch.reports) {
        const shadow = store.applyReport(report, parts[3]);
        evaluateAlerts(shadow);
        accepted++;
      }
      return sendJson(res, 202, { accepted });
    }
    if (req.method === 'POST' && parts[1] === 'v1' && parts[2] === 'registry-events') {
      const event = JSON.parse((await readBody(req)).toString('utf8'));
      if (event.type === 'provisioned') onProvision(event.deviceId, event.shipmentId);
      else if (event.type === 'decommissioned') onDecommission(event.deviceId);
      return sendJson(res, 204, {});
    }
    if (req.method === 'GET' && parts[1] === 'v1' && parts[2] === 'shadows' && parts[3]) {
      const shadow = store.get(parts[3]);
      return shadow ? sendJson(res, 200, shadow) : sendJson(res, 404, { error: 'no shadow' });
    }
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) sendJson(res, 400, { error: String(error) });
  }
}

// --- the fleet (the trackers, the gateways and the registry, outside this service) --------------------

let nextSerial = 0x3a0000;
const fleet = [];
const registryEvents = [];
const GATEWAYS = Array.from({ length: 24 }, (_, i) => `gw-${i < 8 ? 'depot' : 'van'}-${(1000 + i * 37).toString(36)}`);

function provisionTracker(now, legSeconds) {
  const deviceId = `ct3-${(nextSerial++).toString(16)}`;
  const shipmentId = `SHP-${(4_000_000 + nextSerial * 13).toString()}`;
  const tracker = {
    deviceId,
    shipmentId,
    endsAt: now + legSeconds,
    nextReportAt: now + random() * REPORT_INTERVAL_S,
    tempC: 4 + random() * 2,
    battery: 70 + random() * 30,
    lat: 48 + random() * 6,
    lon: 6 + random() * 8,
  };
  fleet.push(tracker);
  registryEvents.push({ type: 'provisioned', deviceId, shipmentId });
  return tracker;
}

function trackerReport(tracker, now) {
  tracker.tempC += (random() - 0.5) * 0.4;
  tracker.battery = Math.max(1, tracker.battery - 0.05);
  tracker.lat += (random() - 0.5) * 0.01;
  tracker.lon += (random() - 0.5) * 0.01;
  return {
    deviceId: tracker.deviceId,
    shipmentId: tracker.shipmentId,
    ts: Math.round(now),
    rssi: -60 - Math.floor(random() * 40),
    state: {
      location: { lat: Math.round(tracker.lat * 1e5) / 1e5, lon: Math.round(tracker.lon * 1e5) / 1e5, accuracyM: 5 + Math.floor(random() * 40) },
      tempC: Math.round(tracker.tempC * 10) / 10,
      humidityPct: 40 + Math.floor(random() * 30),
      shockG: Math.round(random() * random() * 30) / 10,
      lightLux: random() < 0.95 ? 0 : Math.floor(random() * 400),
      batteryPct: Math.round(tracker.battery),
      batteryMv: 3300 + Math.round(tracker.battery * 9),
      firmware: random() < 0.97 ? 'ct3-2.14.1' : 'ct3-2.13.0',
      cellId: `262-01-${(tracker.deviceId.length * 911 + Math.floor(tracker.lat * 100)) % 65536}`,
      door: random() < 0.02 ? 'open' : 'closed',
    },
  };
}

/** Every 5 s of production time: legs that ended are decommissioned, new ones start. */
let provisionCarry = 0;
function fleetTick() {
  const now = programSeconds();
  for (let i = fleet.length - 1; i >= 0; i--) {
    if (fleet[i].endsAt <= now) {
      registryEvents.push({ type: 'decommissioned', deviceId: fleet[i].deviceId });
      fleet.splice(i, 1);
    }
  }
  provisionCarry += (LEGS_PER_HOUR / 3600) * 5;
  for (; provisionCarry >= 1; provisionCarry--) provisionTracker(now, 1200 + random() * 1200);
}

function nextGatewayBatch() {
  const now = programSeconds();
  const reports = [];
  for (const tracker of fleet) {
    if (tracker.nextReportAt > now) continue;
    tracker.nextReportAt = now + REPORT_INTERVAL_S * (0.9 + random() * 0.2);
    reports.push(trackerReport(tracker, now));
    if (reports.length === 40) break;
  }
  if (reports.length === 0) return null;
  const gateway = GATEWAYS[Math.floor(random() * GATEWAYS.length)];
  return { method: 'POST', path: `/v1/gateways/${gateway}/reports`, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ gateway, reports }) };
}

// On start the service loads the shadows of the trackers currently on a leg from its database.
function bootstrapShadows() {
  const now = programSeconds();
  const count = Math.round((LEGS_PER_HOUR * 1800) / 3600);
  for (let i = 0; i < count; i++) {
    const tracker = provisionTracker(now, random() * 2400);
    onProvision(tracker.deviceId, tracker.shipmentId);
    store.applyReport(trackerReport(tracker, now - random() * REPORT_INTERVAL_S), GATEWAYS[i % GATEWAYS.length]);
  }
  registryEvents.length = 0;
}

const ballastMb = buildBallast();
bootstrapShadows();
const { port } = await listen(handler);

// Gateways: a batch of up to 40 reports when reports are due (~12.5 reports/s in all).
const gateways = selfRequests(port, { perSecond: 0.6, maxInFlight: 8, next: nextGatewayBatch });
// The device registry's event webhook.
const registry = selfRequests(port, {
  perSecond: 1.5,
  maxInFlight: 4,
  next: () => {
    const event = registryEvents.shift();
    return event === undefined ? null : { method: 'POST', path: '/v1/registry-events', headers: { 'content-type': 'application/json' }, body: JSON.stringify(event) };
  },
});
// Dashboards looking at a tracker now and then.
const dashboards = selfRequests(port, {
  perSecond: 0.2,
  maxInFlight: 2,
  next: () => (fleet.length ? { method: 'GET', path: `/v1/shadows/${fleet[Math.floor(random() * fleet.length)].deviceId}` } : null),
});

every(5000 / speed, fleetTick);

reportStats(() => ({
  retained: store.shadows.size,
  activeDevices: activeDevices.size,
  trackersOnLeg: fleet.length,
  provisioned: lifecycle.provisioned,
  decommissioned: lifecycle.decommissioned,
  updates: store.updates,
  alerts: alerts.raised,
  requestsFailed: gateways.failed + registry.failed + dashboards.failed,
}));

ready(
  `device-shadow-map-leak: tracker shadow service, ~1 800 trackers/h provisioned and decommissioned, decommissioned shadows never removed from the Map (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
