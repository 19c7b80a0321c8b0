// Image-metadata API of a photo library (healthy).
//
// Steady small traffic: GET /v1/images/:id/metadata and /v1/images/:id/exif,
// ~4 req/s at speed 1, answered from the module-level `images` Map loaded at
// start (3 000 images). A few times a minute (~3/min at speed 1, random
// spacing) a photographer's agency pushes a DAM catalogue export,
// POST /v1/imports (a 2.5–7 MB JSON body: thousands of photos with camera,
// exposure, GPS, keywords and face boxes). The import parses the whole body,
// normalizes every photo, de-duplicates by hash, counts keywords and writes
// the records downstream in batches of 500 (one event-loop turn each): tens
// of MB of objects alive for the length of the import, all dropped when the
// response is sent. Only a small summary of the last 20 imports is kept
// (`recentImports`). At most 2 imports run at once (429 otherwise).
//
// Stats: retained = images in the store (constant); imports done, 429s,
// imports in flight, bytes written downstream.
import {
  buildBallast,
  listen,
  MiB,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  selfRequests,
} from '../corpus/lib/corpus.mjs';

const IMAGE_COUNT = 3000;
const METADATA_RPS = 4; // speed 1
const IMPORT_ATTEMPTS_PER_SECOND = 0.1; // speed 1; half of them go ahead: ~3/min
const MAX_CONCURRENT_IMPORTS = 2;
const MAX_IMPORT_BYTES = 16 * MiB;
const WRITE_BATCH = 500;
const RECENT_IMPORTS = 20;

const CAMERAS = [
  ['Canon', 'EOS R5'], ['Canon', 'EOS 5D Mark IV'], ['Nikon', 'Z 8'], ['Nikon', 'D850'],
  ['Sony', 'ILCE-7RM5'], ['Sony', 'ILCE-9M2'], ['Fujifilm', 'X-T5'], ['Leica', 'Q3'],
];
const LENSES = ['RF24-70mm F2.8 L IS USM', 'NIKKOR Z 70-200mm f/2.8 VR S', 'FE 35mm F1.4 GM', 'XF16-55mmF2.8 R LM WR', 'Summilux 28 f/1.7 ASPH.'];
const KEYWORDS = [
  'portrait', 'landscape', 'street', 'wedding', 'sunset', 'beach', 'city', 'night', 'architecture', 'food',
  'travel', 'family', 'sport', 'wildlife', 'macro', 'studio', 'fashion', 'concert', 'winter', 'autumn',
  'mountains', 'forest', 'river', 'dog', 'cat', 'bride', 'groom', 'crowd', 'market', 'festival',
];
const PEOPLE = ['Ana Ruiz', 'Tom Becker', 'Li Wei', 'Sara Okafor', 'Jonas Berg', 'Mia Rossi', 'Omar Haddad', 'Eva Novak'];
const FORMATS = ['jpeg', 'heic', 'tiff', 'dng', 'cr3', 'nef'];

const random = rng(20261204);

// --- the image store: loaded once at start, never grows ---------------------

const images = new Map();

function loadImage(i) {
  const [make, model] = CAMERAS[i % CAMERAS.length];
  const id = `img_${(1_000_000 + i).toString(36)}`;
  return {
    id,
    owner: `usr_${(i * 7919) % 400}`,
    format: FORMATS[i % FORMATS.length],
    width: 4000 + (i % 7) * 256,
    height: 3000 + (i % 5) * 192,
    bytes: 2_000_000 + ((i * 104729) % 30_000_000),
    exif: { make, model, lens: LENSES[i % LENSES.length], iso: 100 << (i % 6), fNumber: 1.4 + (i % 10) * 0.6, exposureTime: `1/${60 << (i % 5)}`, focalLength: 24 + (i % 9) * 10 },
    keywords: [KEYWORDS[i % KEYWORDS.length], KEYWORDS[(i * 7) % KEYWORDS.length]],
    uploadedAt: 1_760_000_000_000 + i * 61_000,
  };
}

for (let i = 0; i < IMAGE_COUNT; i++) {
  const image = loadImage(i);
  images.set(image.id, image);
}
const imageIds = [...images.keys()];

// --- small requests ----------------------------------------------------------

function metadataView(image) {
  return {
    id: image.id,
    format: image.format,
    dimensions: `${image.width}x${image.height}`,
    megapixels: Math.round((image.width * image.height) / 10_000) / 100,
    sizeBytes: image.bytes,
    camera: `${image.exif.make} ${image.exif.model}`,
    keywords: image.keywords,
    uploadedAt: new Date(image.uploadedAt).toISOString(),
  };
}

function sendJson(res, status, value) {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

// --- imports -------------------------------------------------------------------

let activeImports = 0;
let importsDone = 0;
let importsRefused = 0;
let bytesWritten = 0;
let importMsTotal = 0;
let importMsMax = 0;
const recentImports = [];

function parseShutter(value) {
  if (typeof value !== 'string') return null;
  const slash = value.indexOf('/');
  return slash === -1 ? Number(value) : Number(value.slice(0, slash)) / Number(value.slice(slash + 1));
}

function normalizePhoto(photo, source) {
  const capturedAt = Date.parse(photo.capturedAt);
  const record = {
    id: `${source}:${photo.file}`,
    sha1: photo.sha1,
    file: photo.file,
    width: photo.width,
    height: photo.height,
    megapixels: Math.round((photo.width * photo.height) / 10_000) / 100,
    orientation: photo.width >= photo.height ? 'landscape' : 'portrait',
    capturedAt: Number.isNaN(capturedAt) ? null : capturedAt,
    camera: `${photo.camera.make} ${photo.camera.model}`.trim(),
    lens: photo.camera.lens ?? null,
    exposure: {
      iso: photo.exposure.iso,
      fNumber: photo.exposure.aperture,
      shutterSeconds: parseShutter(photo.exposure.shutter),
      focalMm: photo.exposure.focal,
    },
    location: photo.gps ? { lat: Math.round(photo.gps.lat * 1e5) / 1e5, lon: Math.round(photo.gps.lon * 1e5) / 1e5 } : null,
    keywords: photo.keywords.map((keyword) => keyword.trim().toLowerCase()),
    people: photo.faces.filter((face) => face.name).map((face) => face.name),
    rating: photo.rating ?? 0,
    problems: [],
  };
  if (record.capturedAt === null) record.problems.push('capturedAt unreadable');
  if (!/^[0-9a-f]{40}$/.test(record.sha1)) record.problems.push('bad sha1');
  if (record.width < 640 || record.height < 480) record.problems.push('too small');
  return record;
}

function countKeywords(records) {
  const counts = new Map();
  for (const record of records) {
    for (const keyword of record.keywords) counts.set(keyword, (counts.get(keyword) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1]).slice(0, 10);
}

// Downstream write (the search index / database is another process): the
// batch is serialized as it would be for the wire, then one turn of the loop.
async function writeBatch(batch) {
  const payload = JSON.stringify({ op: 'upsert', records: batch });
  bytesWritten += payload.length;
  await new Promise((resolve) => setImmediate(resolve));
}

async function importCatalog(manifest) {
  const accepted = [];
  const rejected = [];
  const bySha1 = new Map();
  let duplicates = 0;
  for (const photo of manifest.photos) {
    const record = normalizePhoto(photo, manifest.source);
    if (record.problems.length > 0) rejected.push({ file: record.file, problems: record.problems });
    else if (bySha1.has(record.sha1)) duplicates++;
    else {
      bySha1.set(record.sha1, record);
      accepted.push(record);
    }
  }
  const topKeywords = countKeywords(accepted);
  for (let i = 0; i < accepted.length; i += WRITE_BATCH) {
    await writeBatch(accepted.slice(i, i + WRITE_BATCH));
  }
  return { source: manifest.source, photos: manifest.photos.length, accepted: accepted.length, duplicates, rejected: rejected.length, topKeywords };
}

async function handleImport(req, res) {
  if (activeImports >= MAX_CONCURRENT_IMPORTS) {
    importsRefused++;
    req.resume();
    sendJson(res, 429, { error: 'an import is already running, retry later' });
    return;
  }
  activeImports++;
  try {
    const receivedAt = performance.now();
    const body = await readBody(req, MAX_IMPORT_BYTES);
    const manifest = JSON.parse(body.toString('utf8'));
    const startedAt = programSeconds();
    const result = await importCatalog(manifest);
    const tookMs = performance.now() - receivedAt;
    importMsTotal += tookMs;
    if (tookMs > importMsMax) importMsMax = tookMs;
    importsDone++;
    recentImports.push({ ...result, topKeywords: result.topKeywords.map(([k]) => k), at: Math.round(startedAt) });
    if (recentImports.length > RECENT_IMPORTS) recentImports.shift();
    sendJson(res, 201, result);
  } catch (error) {
    sendJson(res, 400, { error: String(error.message ?? error) });
  } finally {
    activeImports--;
  }
}

function handler(req, res) {
  const url = req.url;
  if (req.method === 'POST' && url === '/v1/imports') {
    handleImport(req, res);
    return;
  }
  const match = /^\/v1\/images\/([a-z0-9_]+)\/(metadata|exif)$/.exec(url);
  if (req.method === 'GET' && match) {
    const image = images.get(match[1]);
    if (image === undefined) sendJson(res, 404, { error: 'no such image' });
    else if (match[2] === 'exif') sendJson(res, 200, image.exif);
    else sendJson(res, 200, metadataView(image));
    return;
  }
  if (url === '/v1/imports/recent') {
    sendJson(res, 200, recentImports);
    return;
  }
  sendJson(res, 404, { error: 'not found' });
}

// --- in-process clients --------------------------------------------------------

function hex40(r) {
  let out = '';
  for (let i = 0; i < 5; i++) out += Math.floor(r() * 0xffffffff).toString(16).padStart(8, '0');
  return out;
}

// A few catalogue exports the agencies keep re-sending (fixtures of the load
// generator, kept as Buffers: ~20 MB of array buffers, constant).
function buildExport(seed, photoCount) {
  const r = rng(seed);
  const photos = [];
  for (let i = 0; i < photoCount; i++) {
    const [make, model] = CAMERAS[Math.floor(r() * CAMERAS.length)];
    const faces = [];
    const faceCount = Math.floor(r() * 3);
    for (let f = 0; f < faceCount; f++) {
      faces.push({ x: Math.round(r() * 3000), y: Math.round(r() * 2000), w: 200 + Math.round(r() * 300), h: 200 + Math.round(r() * 300), name: r() < 0.6 ? PEOPLE[Math.floor(r() * PEOPLE.length)] : null });
    }
    const keywords = [];
    const keywordCount = 3 + Math.floor(r() * 6);
    for (let k = 0; k < keywordCount; k++) keywords.push(` ${KEYWORDS[Math.floor(r() * KEYWORDS.length)]}`);
    photos.push({
      file: `DSC_${(seed % 1000) * 100000 + i}.${FORMATS[Math.floor(r() * FORMATS.length)]}`,
      sha1: r() < 0.995 ? hex40(r) : 'unknown',
      width: r() < 0.01 ? 320 : 4000 + Math.floor(r() * 4000),
      height: 3000 + Math.floor(r() * 2000),
      capturedAt: new Date(1_600_000_000_000 + Math.floor(r() * 150_000_000_000)).toISOString(),
      camera: { make, model, lens: r() < 0.9 ? LENSES[Math.floor(r() * LENSES.length)] : null, serial: String(Math.floor(r() * 1e9)) },
      exposure: { iso: 100 << Math.floor(r() * 6), aperture: Math.round((1.4 + r() * 14) * 10) / 10, shutter: `1/${30 << Math.floor(r() * 6)}`, focal: 14 + Math.floor(r() * 186) },
      gps: r() < 0.7 ? { lat: r() * 140 - 70, lon: r() * 360 - 180, alt: Math.round(r() * 2000) } : null,
      keywords,
      faces,
      rating: Math.floor(r() * 6),
      colorLabel: r() < 0.2 ? 'red' : null,
      copyright: `© ${2015 + Math.floor(r() * 10)} ${PEOPLE[Math.floor(r() * PEOPLE.length)]}`,
    });
  }
  return Buffer.from(JSON.stringify({ source: `agency-${seed % 97}`, exportedAt: new Date().toISOString(), photos }));
}

const ballastMb = buildBallast();
const exportsToSend = [buildExport(11, 4500), buildExport(23, 7000), buildExport(37, 9500), buildExport(41, 12000)];

const { port } = await listen(handler);

const metadataClient = selfRequests(port, {
  perSecond: METADATA_RPS,
  maxInFlight: 32,
  next: () => {
    const id = imageIds[Math.floor(random() * imageIds.length)];
    return { method: 'GET', path: `/v1/images/${id}/${random() < 0.8 ? 'metadata' : 'exif'}` };
  },
});

const importClient = selfRequests(port, {
  perSecond: IMPORT_ATTEMPTS_PER_SECOND,
  maxInFlight: 3,
  next: () => {
    if (random() < 0.5) return null;
    const body = exportsToSend[Math.floor(random() * exportsToSend.length)];
    return { method: 'POST', path: '/v1/imports', headers: { 'content-type': 'application/json' }, body };
  },
});

ready(`image-meta-upload-spikes: image metadata API, ${METADATA_RPS} small req/s and ~3 catalogue imports/min (2.5-7 MB JSON, tens of MB of temporaries) at speed 1; healthy`);

reportStats(() => ({
  retained: images.size,
  importsDone,
  importsRefused,
  importsInFlight: activeImports,
  recentImports: recentImports.length,
  metadataCompleted: metadataClient.completed,
  importSent: importClient.sent,
  importMsMean: importsDone === 0 ? 0 : Math.round(importMsTotal / importsDone),
  importMsMax: Math.round(importMsMax),
  mbWrittenDownstream: Math.round(bytesWritten / MiB),
  ballastMb,
}));
