// Document-render service of a catering-order platform: restaurants' and
// caterers' systems POST an HTML document (order confirmations, delivery
// notes, invoices) with its logo and get a PDF back a little later.
//
// The load is low most of the day (a couple of jobs a minute) and jumps for
// one hour at lunchtime (12:00-13:00, ~27 jobs a minute), when every lunch
// order produces a delivery note. Jobs wait in class RenderQueue (module-level
// `renderQueue`, array `jobs`) holding their HTML (a large string) and logo
// (a Buffer) until one of the two render workers takes them (~7 s a
// document), so during the lunch hour the queue builds up to several hundred
// jobs and then drains completely over the next ~45 minutes. Finished PDFs
// wait in `results` until the caller downloads them (a few seconds) and are
// dropped after 5 minutes at the latest.
//
// The simulated day starts at SCENARIO_CLOCK_H (default 10.75, i.e. 10:45),
// so the burst is at 1.25-2.25 h of program time.
import { createHash, randomUUID } from 'node:crypto';
import {
  buildBallast,
  envNumber,
  every,
  listen,
  onShutdown,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0x9df0);
const clockStartH = envNumber('SCENARIO_CLOCK_H', 10.75, (v) => v >= 0 && v < 24);

/** Hour of the simulated day (0-24). */
function clockHour() {
  return (clockStartH + programSeconds() / 3600) % 24;
}

/** Render jobs per second: ~2.4 a minute, 27 a minute over lunch (5-minute ramps). */
function jobRate() {
  const h = clockHour();
  const base = h >= 7 && h < 20 ? 0.04 : 0.01;
  const ramp = 5 / 60;
  if (h < 12 - ramp || h > 13 + ramp) return base;
  if (h < 12) return base + (0.45 - base) * ((h - (12 - ramp)) / ramp);
  if (h > 13) return base + (0.45 - base) * ((13 + ramp - h) / ramp);
  return 0.45;
}

// --- the queue and the workers --------------------------------------------------------------------------

class RenderQueue {
  constructor() {
    this.jobs = [];
    this.accepted = 0;
  }

  push(job) {
    this.jobs.push(job);
    this.accepted++;
  }

  take() {
    return this.jobs.shift();
  }

  get bytes() {
    let total = 0;
    for (const job of this.jobs) total += job.html.length + job.logo.length;
    return total;
  }
}

const renderQueue = new RenderQueue();
const results = new Map();
const rendering = new Set();
const workerTimers = new Set();
const rendered = { documents: 0, pages: 0, downloads: 0, expired: 0 };
onShutdown(() => {
  for (const timer of workerTimers) clearTimeout(timer);
});

/** Render time: log-normal, median 7 s of production time (layout, fonts, rasterising the logo). */
function renderMs(job) {
  const u = Math.max(1e-9, random());
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  return Math.min(60_000, 7_000 * Math.exp(0.35 * z) * (0.7 + job.html.length / 80_000));
}

/** The "PDF": page objects for the text, the embedded logo once, a trailer. */
function layoutPdf(job) {
  const text = job.html.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ');
  const pages = Math.max(1, Math.ceil(text.length / 3_000));
  const parts = [Buffer.from(`%PDF-1.7\n% ${job.id}\n`)];
  for (let p = 0; p < pages; p++) parts.push(Buffer.from(`${3 + p} 0 obj << /Type /Page /Contents (${text.slice(p * 3_000, (p + 1) * 3_000)}) >> endobj\n`));
  parts.push(job.logo, Buffer.from(`trailer << /Size ${pages + 3} /ID [${createHash('md5').update(job.html).digest('hex')}] >>\n%%EOF\n`));
  rendered.pages += pages;
  return Buffer.concat(parts);
}

function startWorker(name) {
  const loop = () => {
    const job = renderQueue.take();
    if (job === undefined) {
      const timer = setTimeout(() => {
        workerTimers.delete(timer);
        loop();
      }, 500 / speed);
      workerTimers.add(timer);
      return;
    }
    rendering.add(job);
    job.startedAt = programSeconds();
    const timer = setTimeout(() => {
      workerTimers.delete(timer);
      rendering.delete(job);
      results.set(job.id, { pdf: layoutPdf(job), tenant: job.tenant, finishedAt: programSeconds(), worker: name });
      rendered.documents++;
      loop();
    }, renderMs(job) / speed);
    workerTimers.add(timer);
  };
  loop();
}

/** Every minute: drop finished PDFs nobody downloaded within 5 minutes. */
function expireResults() {
  const now = programSeconds();
  for (const [id, result] of results) {
    if (now - result.finishedAt > 300) {
      results.delete(id);
      rendered.expired++;
    }
  }
}

// --- HTTP -----------------------------------------------------------------------------------------------

function sendJson(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handler(req, res) {
  try {
    if (req.url === '/healthz') return sendJson(res, 200, { ok: true, queued: renderQueue.jobs.length });
    if (req.method === 'POST' && req.url === '/v1/render') {
      const request = JSON.parse((await readBody(req)).toString('utf8'));
      const job = {
        id: randomUUID(),
        tenant: request.tenant,
        template: request.template,
        html: request.html,
        logo: Buffer.from(request.logoBase64, 'base64'),
        options: request.options,
        enqueuedAt: programSeconds(),
        startedAt: null,
      };
      renderQueue.push(job);
      return sendJson(res, 202, { id: job.id, position: renderQueue.jobs.length });
    }
    const match = /^\/v1\/jobs\/([\w-]+)\/pdf$/.exec(req.url ?? '');
    if (req.method === 'GET' && match) {
      const result = results.get(match[1]);
      if (result === undefined) return sendJson(res, 404, { error: 'not ready' });
      results.delete(match[1]);
      rendered.downloads++;
      res.writeHead(200, { 'content-type': 'application/pdf', 'content-length': result.pdf.length });
      return res.end(result.pdf);
    }
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) sendJson(res, 400, { error: String(error) });
  }
}

// --- the callers ------------------------------------------------------------------------------------------

const DISHES = ['Caesar salad', 'Pasta arrabbiata', 'Chicken curry', 'Falafel wrap', 'Tomato soup', 'Quiche lorraine', 'Sushi box', 'Veggie bowl', 'Schnitzel', 'Tiramisu'];
const LOGOS = Array.from({ length: 12 }, (_, i) => {
  const bytes = Buffer.alloc(6_000 + i * 1_500);
  for (let b = 0; b < bytes.length; b++) bytes[b] = (b * 31 + i * 7) & 0xff;
  return bytes.toString('base64');
});

function deliveryNoteHtml(order, lines) {
  let rows = '';
  for (let i = 0; i < lines; i++) {
    const dish = DISHES[(order + i) % DISHES.length];
    rows += `<tr><td class="pos">${i + 1}</td><td class="dish">${dish}</td><td class="notes">${i % 3 === 0 ? 'no nuts, extra sauce on the side' : 'standard'}</td><td class="qty">${1 + ((order + i) % 12)}</td><td class="price">${((order * 7 + i * 131) % 2_000) / 100} EUR</td></tr>\n`;
  }
  return `<!doctype html><html><head><meta charset="utf-8"><title>Delivery note ${order}</title><style>body{font-family:Inter,sans-serif;font-size:10pt}table{width:100%;border-collapse:collapse}td{border-bottom:1px solid #ddd;padding:4px}.qty,.price{text-align:right}</style></head><body><header><h1>Delivery note #${order}</h1><p>Company lunch for office ${order % 400}, floor ${order % 12}, deliver by 12:${String(order % 60).padStart(2, '0')}</p></header><table>${rows}</table><footer>Thank you for ordering with us. Allergens: see the attached sheet.</footer></body></html>`;
}

let orderSeq = 51_000;
function renderRequest() {
  const order = orderSeq++;
  const tenant = `caterer-${order % 60}`;
  return {
    method: 'POST',
    path: '/v1/render',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      tenant,
      template: 'delivery-note-v4',
      html: deliveryNoteHtml(order, 40 + Math.floor(random() * 120)),
      logoBase64: LOGOS[order % LOGOS.length],
      options: { format: 'A4', margin: '12mm', embedFonts: true },
    }),
  };
}

// Callers poll for their finished PDFs (ids from the 202 answers, oldest first).
const toDownload = [];

const ballastMb = buildBallast();
const { port } = await listen(handler);
startWorker('render-1');
startWorker('render-2');

const callers = selfRequests(port, {
  perSecond: jobRate,
  maxInFlight: 16,
  next: renderRequest,
  onResponse: (status, text) => {
    if (status === 202) toDownload.push({ id: JSON.parse(text).id, since: programSeconds() });
  },
});
const downloaders = selfRequests(port, {
  perSecond: 1,
  maxInFlight: 4,
  next: () => {
    // a caller gives up on a document after 2 hours
    while (toDownload.length > 0 && programSeconds() - toDownload[0].since > 7200) toDownload.shift();
    const index = toDownload.findIndex((wait) => results.has(wait.id));
    if (index === -1) return null;
    const [{ id }] = toDownload.splice(index, 1);
    return { method: 'GET', path: `/v1/jobs/${id}/pdf` };
  },
});
const balancer = selfRequests(port, { perSecond: 0.1, maxInFlight: 1, next: () => ({ method: 'GET', path: '/healthz' }) });

every(60_000 / speed, expireResults);

reportStats(() => ({
  retained: renderQueue.jobs.length + rendering.size,
  queuedBytes: renderQueue.bytes,
  results: results.size,
  clockH: Math.round(clockHour() * 100) / 100,
  jobRatePerMin: Math.round(jobRate() * 600) / 10,
  accepted: renderQueue.accepted,
  rendered: rendered.documents,
  downloads: rendered.downloads,
  requestsFailed: callers.failed + downloaders.failed + balancer.failed,
}));

ready(
  `pdf-render-queue-lunch-burst: render service, ~2.4 jobs/min, 27/min from 12:00 to 13:00, two ~7 s workers: the queue of HTML+logo jobs builds up over lunch and drains (clock ${clockStartH} h, speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
