// Backend of a collaborative document editor for an operations team: eight
// long-lived shared documents (runbooks, the on-call handbook, the roadmap,
// planning notes) stay open on this instance all day. Clients send batches of
// block edits (POST /v1/docs/:id/ops), pull what others changed
// (GET /v1/docs/:id/changes?since=) and can ask the server to undo the last
// edit of a document (POST /v1/docs/:id/undo).
//
// Server-side undo was built as a chain of closures: every applied edit does
// doc.undo = makeUndo(change, doc.undo), and the returned function reverts
// `change` and hands back the previous undo function, which it closes over.
// Nothing ever trims the chain (no depth limit, no reset on snapshot), and
// the documents are never closed, so every edit since the feature was turned
// on stays reachable from its document: the change record, its removed and
// inserted text, and the closure and context that hold them.
//
// The feature is behind the remote-config flag `editor.serverUndo`, polled
// every minute; it is switched on for this region at the onset (default 1 h).
// Before that edits are applied and forgotten.
import {
  buildBallast,
  listen,
  onsetSeconds,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0xed170c);
const ONSET_S = onsetSeconds(3600);

// --- remote config ------------------------------------------------------------------

const config = { serverUndo: false, fetchedAt: 0 };

/** The config service stand-in: the rollout reached this region at the onset. */
function refreshConfig() {
  config.serverUndo = programSeconds() >= ONSET_S;
  config.fetchedAt = programSeconds();
}
refreshConfig();
setInterval(refreshConfig, 60_000 / speed).unref();

// --- documents --------------------------------------------------------------------------

const WORDS = [
  'restart', 'the', 'primary', 'replica', 'check', 'dashboard', 'alert', 'threshold', 'before', 'after', 'rollback', 'deploy', 'customer',
  'latency', 'queue', 'backlog', 'owner', 'escalate', 'within', 'minutes', 'region', 'failover', 'verify', 'runbook', 'capacity', 'budget',
  'milestone', 'quarter', 'launch', 'review', 'draft', 'legal', 'pricing', 'migration', 'schema', 'index', 'cache', 'warm', 'cold', 'and',
];
const DOCUMENTS = [
  ['doc-oncall', 'On-call handbook'],
  ['doc-db-runbook', 'Database failover runbook'],
  ['doc-roadmap', 'Platform roadmap H2'],
  ['doc-incidents', 'Incident review notes'],
  ['doc-capacity', 'Capacity planning 2024'],
  ['doc-launch', 'Launch checklist: EU region'],
  ['doc-pricing', 'Pricing page copy'],
  ['doc-hiring', 'Hiring plan: SRE'],
];

function sentence(length) {
  const words = [];
  let size = 0;
  while (size < length) {
    const word = WORDS[Math.floor(random() * WORDS.length)];
    words.push(word);
    size += word.length + 1;
  }
  return words.join(' ');
}

const documents = new Map();
for (const [id, title] of DOCUMENTS) {
  const blocks = [];
  const blockCount = 40 + Math.floor(random() * 80);
  for (let b = 0; b < blockCount; b++) blocks.push({ id: `${id}:b${b}`, type: b % 9 === 0 ? 'heading' : 'paragraph', text: sentence(80 + Math.floor(random() * 240)) });
  documents.set(id, { id, title, blocks, rev: 0, undo: null, undoDepth: 0, openedAt: programSeconds(), recent: [], collaborators: new Set() });
}

const edits = { applied: 0, undone: 0, rejected: 0 };

/** Applies one edit to a block and returns the change record. */
function applyEdit(doc, op, author) {
  const block = doc.blocks[op.block];
  const offset = Math.min(op.offset, block.text.length);
  const deleteCount = Math.min(op.deleteCount, block.text.length - offset);
  const removed = block.text.slice(offset, offset + deleteCount);
  block.text = block.text.slice(0, offset) + op.insert + block.text.slice(offset + deleteCount);
  doc.rev++;
  edits.applied++;
  return { docId: doc.id, blockId: block.id, block: op.block, offset, removed, inserted: op.insert, author, rev: doc.rev, at: programSeconds() };
}

function revertChange(doc, change) {
  const block = doc.blocks[change.block];
  const text = block.text;
  if (text.slice(change.offset, change.offset + change.inserted.length) !== change.inserted) return false; // edited since
  block.text = text.slice(0, change.offset) + change.removed + text.slice(change.offset + change.inserted.length);
  doc.rev++;
  return true;
}

function makeUndo(change, previous) {
  return function undo() {
    revertChange(documents.get(change.docId), change);
    return previous;
  };
}

/** The catch-up log clients pull from: the last 200 changes of the document, compact. */
function remember(doc, change) {
  doc.recent.push({ rev: change.rev, block: change.block, offset: change.offset, deleteCount: change.removed.length, insert: change.inserted, author: change.author });
  if (doc.recent.length > 200) doc.recent.shift();
}

// --- HTTP ------------------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const ROUTE = /^\/v1\/docs\/([\w-]+)(\/ops|\/undo|\/changes)?$/;

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://editor.local');
  if (url.pathname === '/healthz') return sendJson(res, 200, { ok: true, documents: documents.size });
  const match = ROUTE.exec(url.pathname);
  const doc = match && documents.get(match[1]);
  if (!doc) return sendJson(res, 404, { error: 'no such document' });
  const action = match[2];
  if (req.method === 'POST' && action === '/ops') {
    let batch;
    try {
      batch = JSON.parse((await readBody(req, 256 * 1024)).toString('utf8'));
    } catch {
      return sendJson(res, 400, { error: 'invalid JSON' });
    }
    if (!Array.isArray(batch.ops) || typeof batch.clientId !== 'string') return sendJson(res, 422, { error: 'clientId and ops required' });
    doc.collaborators.add(batch.clientId);
    for (const op of batch.ops) {
      if (!Number.isInteger(op.block) || op.block < 0 || op.block >= doc.blocks.length || typeof op.insert !== 'string') {
        edits.rejected++;
        continue;
      }
      const change = applyEdit(doc, op, batch.author);
      remember(doc, change);
      if (config.serverUndo) {
        doc.undo = makeUndo(change, doc.undo);
        doc.undoDepth++;
      }
    }
    return sendJson(res, 200, { rev: doc.rev });
  }
  if (req.method === 'POST' && action === '/undo') {
    if (doc.undo === null) return sendJson(res, 409, { error: 'nothing to undo' });
    doc.undo = doc.undo();
    doc.undoDepth--;
    edits.undone++;
    return sendJson(res, 200, { rev: doc.rev });
  }
  if (req.method === 'GET' && action === '/changes') {
    const since = Number(url.searchParams.get('since') ?? 0);
    const changes = doc.recent.filter((c) => c.rev > since);
    return sendJson(res, 200, { rev: doc.rev, changes, resync: changes.length === 200 });
  }
  if (req.method === 'GET' && action === undefined) {
    return sendJson(res, 200, { id: doc.id, title: doc.title, rev: doc.rev, blocks: doc.blocks });
  }
  sendJson(res, 405, { error: 'method not allowed' });
}

// --- clients: ~25 editors typing in the open documents -------------------------------------

const EDITORS = ['amara', 'bogdan', 'carla', 'deniz', 'elif', 'finn', 'gosia', 'hana', 'ivo', 'jun', 'kofi', 'lea', 'mateo', 'nora', 'oskar', 'priya', 'quinn', 'rui', 'sven', 'tala', 'uma', 'vik', 'wen', 'xavi', 'yara'];
const docIds = [...documents.keys()];
const lastSeen = new Map();

/** One batch of 1-6 edits, as the client's debouncer sends them: words typed, a selection deleted. */
function editBatch() {
  const doc = documents.get(docIds[Math.floor(random() ** 1.6 * docIds.length)]);
  const author = EDITORS[Math.floor(random() * EDITORS.length)];
  const ops = [];
  const count = 1 + Math.floor(random() * random() * 6);
  const block = Math.floor(random() * doc.blocks.length);
  for (let i = 0; i < count; i++) {
    const length = doc.blocks[block].text.length;
    const deleting = length > 500 || (length > 60 && random() < 0.45);
    ops.push({
      block,
      offset: Math.floor(random() * length),
      deleteCount: deleting ? 1 + Math.floor(random() ** 2 * 30) : 0,
      insert: deleting && random() < 0.6 ? '' : ` ${sentence(1 + Math.floor(random() ** 2 * 28))}`,
    });
  }
  return { method: 'POST', path: `/v1/docs/${doc.id}/ops`, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ clientId: `${author}-tab1`, author, baseRev: doc.rev, ops }) };
}

function otherRequest() {
  const roll = random();
  const doc = docIds[Math.floor(random() * docIds.length)];
  if (roll < 0.04) return { method: 'GET', path: '/healthz' };
  if (roll < 0.1) return { method: 'POST', path: `/v1/docs/${doc}/undo`, headers: { 'content-type': 'application/json' }, body: '{}' };
  if (roll < 0.13) return { method: 'GET', path: `/v1/docs/${doc}` };
  const since = lastSeen.get(doc) ?? 0;
  lastSeen.set(doc, documents.get(doc).rev);
  return { method: 'GET', path: `/v1/docs/${doc}/changes?since=${since}` };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

const typing = selfRequests(port, { perSecond: 2, maxInFlight: 8, next: editBatch });
const pulls = selfRequests(port, { perSecond: 1.5, maxInFlight: 8, next: otherRequest });

reportStats(() => {
  let depth = 0;
  for (const doc of documents.values()) depth += doc.undoDepth;
  return {
    retained: depth,
    applied: edits.applied,
    undone: edits.undone,
    serverUndo: config.serverUndo,
    requestsFailed: typing.failed + pulls.failed,
  };
});

ready(
  `collab-editor-undo-closure-leak: collaborative editor, 8 open documents, 2 edit batches/s; from ${ONSET_S} s every edit extends doc.undo = makeUndo(change, doc.undo), never trimmed (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
