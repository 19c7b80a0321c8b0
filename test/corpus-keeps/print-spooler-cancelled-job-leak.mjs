// Print-job spooler for an office printer fleet (ESM, no dependencies).
//
// Users submit documents (POST /v1/jobs); the spooler renders every page to
// the printer's page description (bands of compressed raster, kept as text
// the way the device protocol takes them), queues the job on its printer and
// streams it; the job and its rendered pages stay in `jobTable` until the
// printer reports the job done, because copies and duplex re-sends need the
// pages again. A job takes 1-6 minutes from submit to the last sheet.
//
// Users can cancel (DELETE /v1/jobs/:id). A job still rendering or queued is
// dropped at once. A job already printing is aborted on the device, and the
// spooler forgets it when the device reports back. Firmware 4.1 reports every
// stopped job as `aborted`; firmware 4.2 (rolled out to the fleet from the
// onset, SCENARIO_ONSET, default 2 h) reports a job the user canceled as
// `canceled`, which onPrinterEvent only records on the job: those jobs never
// leave `jobTable`, rendered pages and all.
//
// Load: an in-process keep-alive client on 127.0.0.1 plays the office: ~30
// jobs an hour, users polling their jobs every 10 s, a few cancels, printer
// dashboards and health checks.
import { randomBytes } from 'node:crypto';
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
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const FIRMWARE_ROLLOUT_S = onsetSeconds(7200);
const TICK_S = 5; // spooler and printer tick, production seconds
const RENDER_PAGES_PER_S = 4; // one render worker
const JOBS_PER_HOUR = 30;
const RECENT_LIMIT = 200;

// Separate seeded streams, so the jobs users send (and whether they will
// cancel them) are the same on every run whatever the event-loop timing.
const office = rng(0x5b001); // job arrivals, documents, users' intents
const pageNoise = rng(0x5b002); // how dense each rendered band is
const random = rng(0x5b003); // everything else on the client side

// --- Spooler state ----------------------------------------------------------

/** Every job the spooler knows about, by id, until the printer is done with it. */
const jobTable = new Map();
/** Jobs waiting for the render worker, oldest first. */
const renderQueue = [];
/** Summaries of the last finished jobs (for "my recent jobs"). */
const recentJobs = [];
const counters = { submitted: 0, completed: 0, canceledEarly: 0, canceledPrinting: 0, failed: 0, rendered: 0 };
/** Submit-to-last-sheet times of completed jobs, production seconds. */
const turnaround = { count: 0, total: 0, min: Infinity, max: 0 };

class PrintJob {
  constructor(id, spec, now) {
    this.id = id;
    this.owner = spec.owner;
    this.title = spec.title;
    this.printer = spec.printer;
    this.docType = spec.docType;
    this.pageCount = spec.pages;
    this.copies = spec.copies;
    this.duplex = spec.duplex;
    this.colour = spec.colour;
    this.media = spec.media;
    this.state = 'rendering';
    this.submittedAt = now;
    this.startedAt = null;
    this.endedAt = null;
    this.pages = [];
    this.pagesPrinted = 0;
    this.cancelRequested = false;
  }

  summary() {
    return {
      id: this.id,
      owner: this.owner,
      title: this.title,
      printer: this.printer,
      state: this.state,
      pages: this.pageCount,
      copies: this.copies,
      pagesPrinted: this.pagesPrinted,
      submittedAt: this.submittedAt,
      endedAt: this.endedAt,
    };
  }
}

// Bytes of page description per raster band, by kind of document.
const BAND_BYTES = { text: [260, 900], slides: [700, 2400], spreadsheet: [420, 1300], photo: [2000, 4200] };

function encodeBand(docType, colour) {
  const [low, high] = BAND_BYTES[docType];
  const bytes = Math.round((low + pageNoise() * (high - low)) * (colour ? 1.4 : 1));
  return randomBytes(bytes).toString('base64');
}

/** Renders one page to the printer's page description: raster bands as text. */
function renderPage(job, pageNo) {
  const bandCount = job.media === 'A3' ? 16 : 12;
  const bands = [];
  let byteLength = 0;
  for (let b = 0; b < bandCount; b++) {
    const band = encodeBand(job.docType, job.colour);
    byteLength += band.length;
    bands.push(band);
  }
  return {
    pageNo,
    media: job.media,
    side: job.duplex && pageNo % 2 === 0 ? 'back' : 'front',
    colour: job.colour,
    bands,
    byteLength,
    checksum: (byteLength * 2654435761) >>> 0,
  };
}

function finishJob(job, state, now) {
  job.state = state;
  job.endedAt = now;
  jobTable.delete(job.id);
  recentJobs.push(job.summary());
  if (recentJobs.length > RECENT_LIMIT) recentJobs.shift();
}

// --- Printers (device stand-ins) --------------------------------------------

class Printer {
  constructor(name, model, ppm) {
    this.name = name;
    this.model = model;
    this.ppm = ppm;
    this.firmware = '4.1.7';
    this.queue = [];
    this.current = null;
    this.impressionsDone = 0;
    this.impressionsTotal = 0;
    this.abortRequested = false;
    this.pendingFirmware = null;
    this.sheets = 0;
  }

  start(job) {
    this.current = job;
    this.impressionsDone = 0;
    this.impressionsTotal = job.pageCount * job.copies;
    this.abortRequested = false;
  }

  abort(jobId) {
    if (this.current !== null && this.current.id === jobId) this.abortRequested = true;
  }

  /** Advances the device by `seconds`; returns the job-state event to report, if any. */
  tick(seconds) {
    if (this.current === null) return null;
    const job = this.current;
    if (this.abortRequested) {
      this.current = null;
      // 4.1 reports every stopped job as aborted; 4.2 tells a user cancel apart.
      const state = this.firmware.startsWith('4.2') ? 'canceled' : 'aborted';
      return { jobId: job.id, state, impressions: this.impressionsDone, reason: 'job-canceled-by-user' };
    }
    const step = (this.ppm * seconds) / 60;
    this.impressionsDone = Math.min(this.impressionsTotal, this.impressionsDone + step);
    this.sheets += step;
    if (this.impressionsDone >= this.impressionsTotal) {
      this.current = null;
      return { jobId: job.id, state: 'completed', impressions: this.impressionsTotal, reason: 'job-completed-successfully' };
    }
    return { jobId: job.id, state: 'processing', impressions: Math.floor(this.impressionsDone), reason: 'job-printing' };
  }
}

const printers = new Map(
  [
    ['2F-east', 'MX-4071', 40],
    ['2F-west', 'MX-4071', 40],
    ['3F-copy', 'C-3530', 35],
    ['4F-exec', 'C-3530', 30],
    ['reception', 'M-2540', 25],
  ].map(([name, model, ppm]) => [name, new Printer(name, model, ppm)]),
);

/** Job-state reports from the devices. */
function onPrinterEvent(printer, event, now) {
  const job = jobTable.get(event.jobId);
  if (job === undefined) return;
  job.pagesPrinted = Math.min(job.pageCount, Math.floor(event.impressions / job.copies));
  switch (event.state) {
    case 'processing':
      break;
    case 'completed': {
      counters.completed++;
      const seconds = now - job.submittedAt;
      turnaround.count++;
      turnaround.total += seconds;
      turnaround.min = Math.min(turnaround.min, seconds);
      turnaround.max = Math.max(turnaround.max, seconds);
      finishJob(job, 'completed', now);
      break;
    }
    case 'aborted':
      if (job.cancelRequested) counters.canceledPrinting++;
      else counters.failed++;
      finishJob(job, job.cancelRequested ? 'canceled' : 'aborted', now);
      break;
    case 'canceled':
      // Canceled at the device's own panel: nothing left to send.
      job.state = 'canceled';
      job.endedAt = now;
      break;
  }
}

function spoolerTick() {
  const now = programSeconds();
  // Render worker.
  let budget = RENDER_PAGES_PER_S * TICK_S;
  while (budget > 0 && renderQueue.length > 0) {
    const job = renderQueue[0];
    if (job.state !== 'rendering') {
      renderQueue.shift();
      continue;
    }
    while (budget > 0 && job.pages.length < job.pageCount) {
      job.pages.push(renderPage(job, job.pages.length + 1));
      counters.rendered++;
      budget--;
    }
    if (job.pages.length === job.pageCount) {
      renderQueue.shift();
      job.state = 'queued';
      printers.get(job.printer).queue.push(job);
    }
  }
  // Devices.
  for (const printer of printers.values()) {
    if (printer.current === null && printer.pendingFirmware !== null) {
      printer.firmware = printer.pendingFirmware;
      printer.pendingFirmware = null;
    }
    const event = printer.tick(TICK_S);
    if (event !== null) onPrinterEvent(printer, event, now);
    while (printer.current === null && printer.queue.length > 0) {
      const job = printer.queue.shift();
      if (job.state !== 'queued') continue;
      job.state = 'printing';
      job.startedAt = now;
      printer.start(job);
    }
  }
  // Fleet management pushes firmware 4.2; each device installs it when idle.
  if (now >= FIRMWARE_ROLLOUT_S) {
    for (const printer of printers.values()) {
      if (printer.firmware === '4.1.7' && printer.pendingFirmware === null) printer.pendingFirmware = '4.2.0';
    }
  }
}

// --- HTTP API ---------------------------------------------------------------

function sendJson(res, status, value) {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

let nextJobId = 1;

async function handle(req, res) {
  const url = new URL(req.url, 'http://spooler');
  const parts = url.pathname.split('/').filter(Boolean);
  if (req.method === 'GET' && url.pathname === '/healthz') return sendJson(res, 200, { ok: true, jobs: jobTable.size });
  if (parts[0] !== 'v1') return sendJson(res, 404, { error: 'not found' });
  if (req.method === 'POST' && parts[1] === 'jobs' && parts.length === 2) {
    const spec = JSON.parse((await readBody(req)).toString('utf8'));
    if (!printers.has(spec.printer)) return sendJson(res, 400, { error: 'unknown printer' });
    const job = new PrintJob(`job-${nextJobId++}`, spec, programSeconds());
    jobTable.set(job.id, job);
    renderQueue.push(job);
    counters.submitted++;
    return sendJson(res, 201, { id: job.id, state: job.state });
  }
  if (parts[1] === 'jobs' && parts.length === 3) {
    const job = jobTable.get(parts[2]);
    if (req.method === 'GET') {
      if (job !== undefined) return sendJson(res, 200, job.summary());
      const done = recentJobs.find((s) => s.id === parts[2]);
      return done === undefined ? sendJson(res, 404, { error: 'no such job' }) : sendJson(res, 200, done);
    }
    if (req.method === 'DELETE') {
      if (job === undefined) return sendJson(res, 404, { error: 'no such job' });
      job.cancelRequested = true;
      if (job.state === 'rendering' || job.state === 'queued') {
        counters.canceledEarly++;
        finishJob(job, 'canceled', programSeconds());
        return sendJson(res, 200, { id: job.id, state: 'canceled' });
      }
      if (job.state === 'printing') {
        printers.get(job.printer).abort(job.id);
        return sendJson(res, 202, { id: job.id, state: 'canceling' });
      }
      return sendJson(res, 409, { id: job.id, state: job.state });
    }
  }
  if (req.method === 'GET' && parts[1] === 'printers') {
    const list = [...printers.values()].map((p) => ({
      name: p.name,
      model: p.model,
      firmware: p.firmware,
      busy: p.current !== null,
      queued: p.queue.length,
      sheets: Math.floor(p.sheets),
    }));
    return sendJson(res, 200, { printers: list });
  }
  if (req.method === 'GET' && parts[1] === 'users' && parts[3] === 'jobs') {
    const mine = recentJobs.filter((s) => s.owner === parts[2]).slice(-10);
    return sendJson(res, 200, { jobs: mine });
  }
  return sendJson(res, 404, { error: 'not found' });
}

// --- The office (load generator) --------------------------------------------

const USERS = Array.from({ length: 140 }, (_, i) => `u${1000 + i}`);
const TITLES = ['Quarterly report', 'Invoice batch', 'Board slides', 'Contract draft', 'Site photos', 'Budget sheet', 'Boarding passes', 'Minutes'];
const DOC_TYPES = ['text', 'text', 'text', 'slides', 'spreadsheet', 'photo'];
const PRINTER_NAMES = [...printers.keys()];

/** Pending client actions on the production clock, sorted by `at`. */
const agenda = [];
function schedule(at, action) {
  let i = agenda.length;
  while (i > 0 && agenda[i - 1].at > at) i--;
  agenda.splice(i, 0, { at, ...action });
}

function exponential(mean, source = random) {
  return -Math.log(1 - source()) * mean;
}

function jobSpec() {
  const docType = DOC_TYPES[Math.floor(office() * DOC_TYPES.length)];
  // Page counts are log-normal around 40 (a few long reports).
  const normal = Math.sqrt(-2 * Math.log(1 - office())) * Math.cos(2 * Math.PI * office());
  const pages = Math.max(4, Math.min(160, Math.round(40 * Math.exp(0.7 * normal))));
  const r = office();
  let copies = r < 0.8 ? 1 : r < 0.95 ? 2 : 3;
  while (copies > 1 && pages * copies > 200) copies--;
  return {
    owner: USERS[Math.floor(office() * USERS.length)],
    title: `${TITLES[Math.floor(office() * TITLES.length)]} ${Math.floor(office() * 900 + 100)}`,
    printer: PRINTER_NAMES[Math.floor(office() * PRINTER_NAMES.length)],
    docType,
    pages,
    copies,
    duplex: office() < 0.6,
    colour: docType === 'photo' || docType === 'slides' ? office() < 0.8 : office() < 0.15,
    media: office() < 0.08 ? 'A3' : 'A4',
  };
}

let nextArrival = exponential(3600 / JOBS_PER_HOUR, office);

function nextRequest() {
  const now = programSeconds();
  while (now >= nextArrival) {
    const spec = jobSpec();
    const r = office();
    // 9 % of users notice a mistake once pages come out, 4 % right after sending.
    const intent = r < 0.09 ? 'while-printing' : r < 0.13 ? 'early' : 'none';
    const cancelAfterPages = 1 + Math.floor(office() * 12);
    const cancelDelay = 2 + office() * 8;
    schedule(nextArrival, { kind: 'submit', spec, intent, cancelAfterPages, cancelDelay });
    nextArrival += exponential(3600 / JOBS_PER_HOUR, office);
  }
  if (agenda.length === 0 || agenda[0].at > now) return null;
  const action = agenda.shift();
  switch (action.kind) {
    case 'submit':
      return { method: 'POST', path: '/v1/jobs', headers: { 'content-type': 'application/json' }, body: JSON.stringify(action.spec), action };
    case 'poll':
      return { method: 'GET', path: `/v1/jobs/${action.id}`, action };
    case 'cancel':
      return { method: 'DELETE', path: `/v1/jobs/${action.id}`, action };
    case 'dashboard':
      schedule(now + 15 + random() * 10, { kind: 'dashboard' });
      return { method: 'GET', path: '/v1/printers' };
    case 'health':
      schedule(now + 10, { kind: 'health' });
      return { method: 'GET', path: '/healthz' };
    case 'history':
      schedule(now + exponential(60), { kind: 'history' });
      return { method: 'GET', path: `/v1/users/${USERS[Math.floor(random() * USERS.length)]}/jobs` };
    default:
      return null;
  }
}

function onResponse(status, text, request) {
  const action = request.action;
  if (action === undefined) return;
  const now = programSeconds();
  if (action.kind === 'submit' && status === 201) {
    const { id } = JSON.parse(text);
    const watcher = { id, intent: action.intent, cancelAfterPages: action.cancelAfterPages };
    schedule(now + 10, { kind: 'poll', id, watcher });
    if (watcher.intent === 'early') schedule(now + action.cancelDelay, { kind: 'cancel', id, watcher });
    return;
  }
  if (action.kind === 'poll' && status === 200) {
    const job = JSON.parse(text);
    if (job.state === 'completed' || job.state === 'canceled' || job.state === 'aborted') return;
    const { watcher } = action;
    if (watcher.intent === 'while-printing' && job.state === 'printing' && job.pagesPrinted >= Math.min(watcher.cancelAfterPages, job.pages - 1)) {
      watcher.intent = 'canceled';
      schedule(now, { kind: 'cancel', id: job.id, watcher });
    }
    schedule(now + 10, { kind: 'poll', id: job.id, watcher });
  }
}

// --- Start ------------------------------------------------------------------

const ballastMb = buildBallast();
const { port } = await listen((req, res) => {
  handle(req, res).catch((error) => {
    if (!res.headersSent) sendJson(res, 500, { error: String(error.message) });
  });
});

schedule(0, { kind: 'dashboard' });
schedule(3, { kind: 'dashboard' });
schedule(1, { kind: 'health' });
schedule(6, { kind: 'health' });
schedule(20, { kind: 'history' });

every((TICK_S * 1000) / speed, spoolerTick);
const client = selfRequests(port, { perSecond: 2, next: nextRequest, onResponse, maxInFlight: 16 });

reportStats(() => {
  let active = 0;
  let canceledHeld = 0;
  let heldPages = 0;
  let heldPageBytes = 0;
  for (const job of jobTable.values()) {
    if (job.state === 'canceled') canceledHeld++;
    else active++;
    heldPages += job.pages.length;
    for (const page of job.pages) heldPageBytes += page.byteLength;
  }
  const firmware42 = [...printers.values()].filter((p) => p.firmware.startsWith('4.2')).length;
  return {
    retained: jobTable.size,
    active,
    canceledHeld,
    heldPages,
    heldPageBytes,
    firmware42,
    ...counters,
    turnaroundMinS: turnaround.count > 0 ? Math.round(turnaround.min) : null,
    turnaroundMeanS: turnaround.count > 0 ? Math.round(turnaround.total / turnaround.count) : null,
    turnaroundMaxS: turnaround.count > 0 ? Math.round(turnaround.max) : null,
    requestsFailed: client.failed,
  };
});

ready(`print-spooler-cancelled-job-leak on 127.0.0.1:${port}: print spooler, jobs canceled while printing stay in jobTable from firmware 4.2 (onset ${FIRMWARE_ROLLOUT_S} s)${ballastMb > 0 ? `, ballast ${ballastMb} MB` : ''}`);
