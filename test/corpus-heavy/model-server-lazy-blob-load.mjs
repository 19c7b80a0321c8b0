// Model-serving service: POST /v1/models/:name/predict runs a small model on a
// feature vector. Models are loaded lazily on their first request: the
// weights blob (2-9 MB) is fetched from the model registry stand-in into a
// Buffer and kept, with its small metadata (labels, shapes, checksum,
// counters), in the module-level Map `loadedModels` for the life of the
// process (the catalogue is fixed at 20 models and the service is sized for
// all of them). Product teams switch their features over to the service one
// by one during the first ~3 hours, so the models are first requested over
// that time; after that every model is loaded and nothing more is.
import { createHash } from 'node:crypto';
import {
  buildBallast,
  listen,
  MiB,
  programSeconds,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0x30de1);

// --- the catalogue (what the registry has) -------------------------------------------------

const TASKS = ['ranking', 'fraud', 'churn', 'intent', 'eta', 'pricing', 'toxicity', 'language', 'category', 'spam'];
const CATALOGUE = Array.from({ length: 20 }, (_, i) => {
  const task = TASKS[i % TASKS.length];
  return {
    name: `${task}-${i < 10 ? 'v3' : 'v4'}-${(0x51 + i * 7).toString(16)}`,
    task,
    sizeBytes: Math.round((2 + ((i * 7) % 15) * 0.5) * MiB), // 2-9 MB
    inputs: 16 + ((i * 5) % 48),
    outputs: 2 + (i % 9),
    // When the owning team switches traffic over (production seconds).
    liveFrom: i < 3 ? 0 : Math.round(10_800 * ((i - 2) / 17) ** 1.15 - random() * 240),
  };
});

// --- the registry stand-in ---------------------------------------------------------------

const registry = {
  downloads: 0,
  bytes: 0,
  /** Downloads a model's weights: a Buffer of its size, after a few ms. */
  fetch(entry) {
    this.downloads++;
    this.bytes += entry.sizeBytes;
    return new Promise((resolve) =>
      setTimeout(() => {
        const blob = Buffer.allocUnsafe(entry.sizeBytes);
        blob.write('MDL2', 0, 'latin1');
        blob.writeUInt32LE(entry.inputs, 4);
        blob.writeUInt32LE(entry.outputs, 8);
        blob.fill(createHash('sha512').update(entry.name).digest(), 64);
        resolve(blob);
      }, 20 + random() * 40),
    );
  },
};

// --- loaded models --------------------------------------------------------------------------

class LoadedModel {
  constructor(entry, blob) {
    this.name = entry.name;
    this.task = entry.task;
    this.weights = blob;
    this.inputs = blob.readUInt32LE(4);
    this.outputs = blob.readUInt32LE(8);
    // A float view over the first layer (inputs x outputs) at the start of the payload.
    this.layer = new Float32Array(blob.buffer, blob.byteOffset + 64, this.inputs * this.outputs);
    this.meta = {
      checksum: createHash('sha256').update(blob.subarray(0, 1 << 20)).digest('hex'),
      labels: Array.from({ length: this.outputs }, (_, k) => `${entry.task}_class_${k}`),
      inputShape: [1, this.inputs],
      sizeBytes: blob.length,
      loadedAt: programSeconds(),
    };
    this.stats = { calls: 0, errors: 0, lastCallAt: 0 };
  }

  predict(features) {
    const scores = new Array(this.outputs).fill(0);
    for (let o = 0; o < this.outputs; o++) {
      let sum = 0;
      for (let i = 0; i < this.inputs; i++) {
        const w = this.layer[o * this.inputs + i];
        sum += (Number.isFinite(w) ? Math.tanh(w) : 0) * (features[i] ?? 0);
      }
      scores[o] = 1 / (1 + Math.exp(-sum));
    }
    this.stats.calls++;
    this.stats.lastCallAt = programSeconds();
    let best = 0;
    for (let o = 1; o < scores.length; o++) if (scores[o] > scores[best]) best = o;
    return { label: this.meta.labels[best], score: Math.round(scores[best] * 1e4) / 1e4 };
  }
}

/** name -> LoadedModel, for the life of the process. */
const loadedModels = new Map();
const loading = new Map(); // name -> Promise<LoadedModel>
const catalogueByName = new Map(CATALOGUE.map((entry) => [entry.name, entry]));
const counters = { predictions: 0, loads: 0, unknown: 0 };

async function getModel(name) {
  const loaded = loadedModels.get(name);
  if (loaded !== undefined) return loaded;
  let pending = loading.get(name);
  if (pending === undefined) {
    const entry = catalogueByName.get(name);
    if (entry === undefined) return null;
    pending = registry.fetch(entry).then((blob) => {
      const model = new LoadedModel(entry, blob);
      loadedModels.set(name, model);
      loading.delete(name);
      counters.loads++;
      return model;
    });
    loading.set(name, pending);
  }
  return pending;
}

// --- HTTP ------------------------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function readJson(req) {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => (text += chunk));
    req.on('end', () => {
      try {
        resolve(JSON.parse(text));
      } catch (error) {
        reject(error);
      }
    });
    req.on('error', reject);
  });
}

async function handler(req, res) {
  const url = req.url ?? '/';
  try {
    const match = /^\/v1\/models\/([\w.-]+)\/predict$/.exec(url);
    if (req.method === 'POST' && match !== null) {
      const body = await readJson(req);
      const model = await getModel(match[1]);
      if (model === null) {
        counters.unknown++;
        return sendJson(res, 404, { error: 'unknown model' });
      }
      counters.predictions++;
      return sendJson(res, 200, { model: model.name, ...model.predict(body.features ?? []) });
    }
    if (req.method === 'GET' && url === '/v1/models') {
      return sendJson(res, 200, [...loadedModels.values()].map((m) => ({ name: m.name, calls: m.stats.calls, sizeBytes: m.meta.sizeBytes })));
    }
    if (req.method === 'GET' && url === '/healthz') return sendJson(res, 200, { ok: true, loaded: loadedModels.size });
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) sendJson(res, 500, { error: String(error.message ?? error) });
  }
}

// --- calling features (the load) ---------------------------------------------------------------

function liveModels() {
  const now = programSeconds();
  return CATALOGUE.filter((entry) => entry.liveFrom <= now);
}

function nextPrediction() {
  const live = liveModels();
  const entry = live[Math.floor(random() * live.length)];
  const features = Array.from({ length: entry.inputs }, () => Math.round((random() * 2 - 1) * 1000) / 1000);
  return { method: 'POST', path: `/v1/models/${entry.name}/predict`, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ features }) };
}

const ballastMb = buildBallast();
const { port } = await listen(handler);

const callers = selfRequests(port, { perSecond: 1.5, maxInFlight: 16, next: nextPrediction });
const dashboards = selfRequests(port, {
  perSecond: 0.1,
  maxInFlight: 2,
  next: () => ({ method: 'GET', path: random() < 0.5 ? '/healthz' : '/v1/models' }),
});

reportStats(() => {
  let blobBytes = 0;
  for (const model of loadedModels.values()) blobBytes += model.weights.length;
  return {
    retained: loadedModels.size,
    blobBytes,
    liveModels: liveModels().length,
    predictions: counters.predictions,
    requestsFailed: callers.failed + dashboards.failed,
  };
});

ready(
  `model-server-lazy-blob-load: 20 models of 2-9 MB loaded on first use as teams switch over during ~3 h, then all kept (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
