// Insurance claims intake API: brokers POST /v1/claims (~10 KB JSON: policy,
// parties, incident narrative, line items); the handler validates, assigns a
// claim number and answers 201. The compliance middleware appends an audit
// record per request to the module-level array `auditTrail`, which a nightly
// export was supposed to drain (the export job was never deployed here).
// Each record keeps the request body with personal data masked (~10 KB).
//
// Speed 1: 11 claims/s → ~400 MB/h of JS heap from the first request.
// Cap: the trail stops accepting records at 13 000 (~130 MB), after ~20 min
// at speed 1 (~20 s at SCENARIO_SPEED=60); from then on the heap is flat and
// the service keeps answering normally (records are counted as skipped).
// stats: retained = auditTrail.length.
import { randomUUID } from 'node:crypto';
import { buildBallast, listen, readBody, ready, reportStats, rng, selfRequests } from '../corpus/lib/corpus.mjs';

const CLAIMS_PER_SECOND = 11;
const MAX_AUDIT_RECORDS = 13_000;

const auditTrail = [];
let skippedAudits = 0;
let claimSeq = 0;

const EMAIL = /[\w.+-]+@[\w-]+\.[\w.]+/g;
const PHONE = /\+?\d[\d ()-]{7,}\d/g;
function maskPersonalData(text) {
  return text.replace(EMAIL, '***@***').replace(PHONE, '+** *** ****');
}

function recordAudit(req, status, startedAt, bodyText, claimNumber) {
  if (auditTrail.length >= MAX_AUDIT_RECORDS) {
    skippedAudits++;
    return;
  }
  auditTrail.push({
    id: randomUUID(),
    at: new Date().toISOString(),
    actor: req.headers['x-broker-id'] ?? 'anonymous',
    requestId: req.headers['x-request-id'],
    method: req.method,
    path: req.url,
    ip: req.socket.remoteAddress,
    userAgent: req.headers['user-agent'],
    status,
    durationMs: performance.now() - startedAt,
    claimNumber,
    body: maskPersonalData(bodyText),
  });
}

function validateClaim(claim) {
  if (typeof claim.policyNumber !== 'string' || !Array.isArray(claim.items)) return 'policyNumber and items are required';
  let total = 0;
  for (const item of claim.items) total += item.amountCents;
  if (total <= 0) return 'claim total must be positive';
  return null;
}

const ballastMB = buildBallast();
const { port } = await listen(async (req, res) => {
  const startedAt = performance.now();
  if (req.method !== 'POST' || req.url !== '/v1/claims') return res.writeHead(404).end();
  const bodyText = (await readBody(req)).toString('utf8');
  let claim;
  try {
    claim = JSON.parse(bodyText);
  } catch {
    recordAudit(req, 400, startedAt, bodyText, null);
    return res.writeHead(400).end();
  }
  const problem = validateClaim(claim);
  if (problem !== null) {
    recordAudit(req, 422, startedAt, bodyText, null);
    return res.writeHead(422, { 'content-type': 'application/json' }).end(JSON.stringify({ error: problem }));
  }
  const claimNumber = `CLM-${new Date().getUTCFullYear()}-${String(++claimSeq).padStart(8, '0')}`;
  recordAudit(req, 201, startedAt, bodyText, claimNumber);
  res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ claimNumber, status: 'received' }));
});

// --- brokers -----------------------------------------------------------------------
const random = rng(303);
const NARRATIVE = ['The insured reports that water entered the ground floor after heavy rain.', 'A tree branch fell on the parked vehicle during the storm.', 'The laptop was stolen from the car while parked at the train station.', 'A kitchen fire damaged the cabinets and the extractor hood.', 'The rear bumper was hit at low speed in a supermarket car park.'];
const CATEGORIES = ['structure', 'contents', 'vehicle', 'electronics', 'jewellery', 'tools', 'clothing', 'furniture'];
let requestSeq = 0;
function claimBody() {
  const n = ++requestSeq;
  const items = [];
  for (let i = 0; i < 48; i++) {
    items.push({ line: i + 1, category: CATEGORIES[(n + i) % CATEGORIES.length], description: `${CATEGORIES[(n + i) % CATEGORIES.length]} item ${i + 1}, purchased ${2015 + (i % 9)}, receipt ${Math.floor(random() * 1e8)}`, amountCents: 1000 + Math.floor(random() * 250_000), currency: 'EUR' });
  }
  return JSON.stringify({
    policyNumber: `POL-${100000 + Math.floor(random() * 900000)}`,
    incidentDate: '2024-05-17',
    claimant: { name: `Claimant ${n % 9973}`, email: `claimant${n}@mail.example`, phone: `+49 151 ${String(1000000 + Math.floor(random() * 8999999))}`, address: `${1 + (n % 200)} Hauptstraße, 10115 Berlin` },
    witnesses: [{ name: `Witness ${n % 311}`, phone: `+49 30 ${String(1000000 + Math.floor(random() * 8999999))}` }],
    narrative: `${NARRATIVE[n % NARRATIVE.length]} ${NARRATIVE[(n + 2) % NARRATIVE.length]} `.repeat(14),
    items,
  });
}
selfRequests(port, {
  perSecond: CLAIMS_PER_SECOND,
  next: () => ({ method: 'POST', path: '/v1/claims', headers: { 'content-type': 'application/json', 'x-broker-id': `broker-${requestSeq % 60}`, 'x-request-id': `req-${requestSeq}`, 'user-agent': 'BrokerPortal/3.4 (+https://brokers.example)' }, body: claimBody() }),
  maxInFlight: 32,
});

reportStats(() => ({ retained: auditTrail.length, skipped: skippedAudits, claims: claimSeq, capped: auditTrail.length >= MAX_AUDIT_RECORDS, ballastMB }));
ready(`claims-audit-api: ${CLAIMS_PER_SECOND} claims/s (speed 1), audit trail up to ${MAX_AUDIT_RECORDS} records`);
