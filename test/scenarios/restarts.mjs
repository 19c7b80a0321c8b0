// Healthy, restarted: a warm-up ramp at every start, flat afterwards.
//
// A routing service loads its geo-IP table in chunks during its first 5 s
// (speed 1), about 40 000 entries / ~25 MB, then only answers lookups
// (short-lived garbage). It is run under a supervisor that restarts it every
// `restartEverySeconds` (manifest): seen across restarts, every lifetime
// starts with the same ramp. Within one lifetime the heap only grows during
// warm-up; across lifetimes it resets, which a detector keyed on the target
// name (not the pid) must not call a leak.
// stats: retained = entries loaded into the table.
import { every, paced, ready, reportStats, scaledMs } from './lib/scenario.mjs';

const TABLE_ENTRIES = 40_000;
const WARM_UP_SECONDS = 5; // at speed 1
const LOAD_TICK_MS = 50;
const LOOKUPS_PER_SECOND = 2_000;
const ASN_SLOTS = 60;

const geoTable = [];

function loadGeoEntry(index) {
  const asns = new Array(ASN_SLOTS);
  for (let i = 0; i < ASN_SLOTS; i++) asns[i] = 64_512 + ((index * 7 + i) % 1_000);
  return { from: index * 65_536, to: index * 65_536 + 65_535, country: index % 249, asns };
}

const loadTicks = Math.max(1, Math.round(scaledMs(WARM_UP_SECONDS) / LOAD_TICK_MS));
const perTick = Math.ceil(TABLE_ENTRIES / loadTicks);
const loader = every(LOAD_TICK_MS, () => {
  const end = Math.min(TABLE_ENTRIES, geoTable.length + perTick);
  while (geoTable.length < end) geoTable.push(loadGeoEntry(geoTable.length));
  if (geoTable.length >= TABLE_ENTRIES) clearInterval(loader);
});

function lookup(address) {
  let low = 0;
  let high = geoTable.length - 1;
  while (low <= high) {
    const mid = (low + high) >> 1;
    const entry = geoTable[mid];
    if (address < entry.from) high = mid - 1;
    else if (address > entry.to) low = mid + 1;
    else return { country: entry.country, asn: entry.asns[address % ASN_SLOTS] };
  }
  return null;
}

let answered = 0;
paced(LOOKUPS_PER_SECOND, (due) => {
  for (let i = 0; i < due; i++) {
    const result = lookup(Math.floor(Math.random() * TABLE_ENTRIES * 65_536));
    const response = JSON.stringify({ ok: result !== null, ...result });
    answered += response.length > 0 ? 1 : 0;
  }
});
reportStats(() => ({ retained: geoTable.length, answered }));
ready(`restarts: loads ${TABLE_ENTRIES} geo entries over ${WARM_UP_SECONDS} s (speed 1), then flat`);
