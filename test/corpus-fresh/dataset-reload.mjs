// dataset-reload — address-validation worker with a reloaded reference dataset (healthy).
//
// The worker validates and geocodes addresses for incoming orders (15 jobs/s at
// speed 1) against a postcode reference dataset: ~110 000 rows (postcode,
// street, city, municipality, province, coordinates, house-number range),
// ~40 MB as a Map of row objects. The reference-data service publishes a new
// snapshot regularly, so every 20 min (speed 1) the worker streams the current
// CSV snapshot in 64 KB chunks, parses it into a new Map beside the old one and
// then swaps `dataset` to point at it; the old copy becomes garbage. The floor
// after GC is flat at one copy from the first load on, with a short step to
// two copies while a reload is being built.
//
// `retained` = rows in the current dataset.
import {
  buildBallast,
  every,
  paced,
  ready,
  reportStats,
  rng,
  scaledMs,
} from '../corpus/lib/corpus.mjs';

const JOBS_PER_SECOND = 15;
const RELOAD_EVERY_S = 20 * 60;
const BASE_ROWS = 110_000;
const CHUNK_BYTES = 64 * 1024;

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

// --- the reference-data service (simulated: a CSV download, chunk by chunk) ------

const STREET_WORDS = ['Kerk', 'Molen', 'Dorps', 'Linden', 'Beuken', 'School', 'Haven', 'Stations', 'Parallel', 'Eiken', 'Wilgen', 'Markt'];
const STREET_TYPES = ['straat', 'weg', 'laan', 'plein', 'dijk', 'singel', 'kade'];
const CITIES = [
  ['Amsterdam', 'Amsterdam', 'Noord-Holland'],
  ['Rotterdam', 'Rotterdam', 'Zuid-Holland'],
  ['Utrecht', 'Utrecht', 'Utrecht'],
  ['Eindhoven', 'Eindhoven', 'Noord-Brabant'],
  ['Groningen', 'Groningen', 'Groningen'],
  ['Zwolle', 'Zwolle', 'Overijssel'],
  ['Nijmegen', 'Nijmegen', 'Gelderland'],
  ['Leeuwarden', 'Leeuwarden', 'Friesland'],
  ['Maastricht', 'Maastricht', 'Limburg'],
  ['Middelburg', 'Middelburg', 'Zeeland'],
  ['Assen', 'Assen', 'Drenthe'],
  ['Lelystad', 'Lelystad', 'Flevoland'],
];
const LETTERS = 'ABCDEFGHJKLMNPRSTVWXZ';

function postcodeOf(i) {
  const digits = 1000 + Math.floor(i / (LETTERS.length * LETTERS.length));
  const rest = i % (LETTERS.length * LETTERS.length);
  return `${digits} ${LETTERS[Math.floor(rest / LETTERS.length)]}${LETTERS[rest % LETTERS.length]}`;
}

function csvLine(i, version) {
  const h = Math.imul(i ^ 0x2545f491, 0x9e3779b1) >>> 0;
  const [city, municipality, province] = CITIES[Math.floor(i / 20_000) % CITIES.length];
  const street = `${STREET_WORDS[h % STREET_WORDS.length]}${STREET_TYPES[(h >>> 5) % STREET_TYPES.length]}`;
  const lat = (50.75 + ((h >>> 3) % 250_000) / 100_000).toFixed(6);
  const lon = (3.36 + ((h >>> 7) % 380_000) / 100_000).toFixed(6);
  const from = 1 + (h % 40);
  return `${postcodeOf(i)},${street},${city},${municipality},${province},${lat},${lon},${from},${from + 2 + ((h >>> 11) % 60)},${version}\n`;
}

const referenceService = {
  version: 1,
  downloads: 0,
  // Each snapshot differs a little from the last: postcodes are added and retired.
  async *snapshot() {
    this.downloads++;
    const version = this.version++;
    const rows = BASE_ROWS + ((version * 137) % 900) - 450;
    yield 'postcode,street,city,municipality,province,lat,lon,from,to,version\n';
    let chunk = '';
    for (let i = 0; i < rows; i++) {
      chunk += csvLine(i, version);
      if (chunk.length >= CHUNK_BYTES) {
        yield chunk;
        chunk = '';
        await nextTurn();
      }
    }
    if (chunk.length > 0) yield chunk;
  },
};

// --- the dataset -------------------------------------------------------------------

let dataset = null; // { version, loadedAt, rows, byPostcode }
const reloads = { started: 0, finished: 0, failed: 0, inProgress: false };

function parseRow(line) {
  const f = line.split(',');
  return {
    postcode: f[0],
    street: f[1],
    city: f[2],
    municipality: f[3],
    province: f[4],
    lat: Number(f[5]),
    lon: Number(f[6]),
    houseFrom: Number(f[7]),
    houseTo: Number(f[8]),
  };
}

async function loadDataset() {
  const byPostcode = new Map();
  let carry = '';
  let header = true;
  let version = 0;
  for await (const chunk of referenceService.snapshot()) {
    const lines = (carry + chunk).split('\n');
    carry = lines.pop();
    for (const line of lines) {
      if (header) {
        header = false;
        continue;
      }
      const row = parseRow(line);
      byPostcode.set(row.postcode, row);
      version = Number(line.slice(line.lastIndexOf(',') + 1));
    }
  }
  return { version, loadedAt: Date.now(), rows: byPostcode.size, byPostcode };
}

async function reload() {
  if (reloads.inProgress) return;
  reloads.inProgress = true;
  reloads.started++;
  try {
    dataset = await loadDataset();
    reloads.finished++;
  } catch {
    reloads.failed++; // keep serving the old copy
  } finally {
    reloads.inProgress = false;
  }
}

// --- the jobs ------------------------------------------------------------------------

const random = rng(0xda7a);
const results = { valid: 0, invalid: 0, waiting: 0 };

function validateAddress(address) {
  const row = dataset.byPostcode.get(address.postcode);
  if (row === undefined) return { ok: false, reason: 'unknown postcode' };
  if (address.houseNumber < row.houseFrom || address.houseNumber > row.houseTo) {
    return { ok: false, reason: 'house number out of range', suggestion: `${row.street} ${row.houseFrom}-${row.houseTo}` };
  }
  return {
    ok: true,
    normalized: `${row.street} ${address.houseNumber}, ${row.postcode} ${row.city}`,
    geo: { lat: row.lat, lon: row.lon },
    province: row.province,
    datasetVersion: dataset.version,
  };
}

function handleJob() {
  if (dataset === null) {
    results.waiting++; // redelivered by the broker later
    return;
  }
  const i = Math.floor(random() * (BASE_ROWS + 2000));
  const result = validateAddress({ postcode: postcodeOf(i), houseNumber: 1 + Math.floor(random() * 70), orderId: `o-${i}` });
  if (result.ok) results.valid++;
  else results.invalid++;
}

// --- start -------------------------------------------------------------------

buildBallast();
reload();
every(scaledMs(RELOAD_EVERY_S), reload);
paced(JOBS_PER_SECOND, (n) => {
  for (let i = 0; i < n; i++) handleJob();
});

reportStats(() => ({
  retained: dataset === null ? 0 : dataset.rows,
  version: dataset === null ? 0 : dataset.version,
  reloading: reloads.inProgress,
  reloads: reloads.finished,
  valid: results.valid,
  invalid: results.invalid,
}));
ready(`dataset-reload: ${JOBS_PER_SECOND} jobs/s at speed 1, reference dataset (~${BASE_ROWS} rows) reloaded every ${RELOAD_EVERY_S} s`);
