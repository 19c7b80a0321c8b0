// The production-time corpus (test/corpus/): every manifest entry is
// well-formed (its files, holder and allocating function exist as named), and
// every program starts under the inspector at SCENARIO_SPEED=60, prints `ready`
// and `stats` lines, and exits 0 on SIGTERM. Whether each program really leaks
// or stays flat as labelled is the job of test/corpus/check.mjs (minutes, not
// seconds: see test/corpus/README.md).
import { access, readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import t, { type Test } from 'tap';
import { repoRoot, spawnTarget, waitFor } from './helpers/targets.js';

interface Holder {
  variable: string;
  script: string;
  kind: 'Array' | 'Map' | 'Set' | 'Object' | 'EventEmitter listeners' | 'timers';
  elementShape: string[] | string;
}

interface CorpusEntry {
  name: string;
  file: string;
  leaky: boolean;
  signal: 'heap' | 'external' | null;
  onsetSeconds: number | null;
  restartEverySeconds: number | null;
  leakRatePerHourBytes: number | null;
  plateauAfterSeconds: number | null;
  allocatingFunction: string | null;
  holder: Holder | null;
  nodeArgs: string[];
  notes: string;
  memoryLimitMiB?: number;
}

const corpusDir = resolve(repoRoot, 'test/corpus');
const manifest = JSON.parse(await readFile(resolve(corpusDir, 'manifest.json'), 'utf8')) as CorpusEntry[];
const KINDS = ['Array', 'Map', 'Set', 'Object', 'EventEmitter listeners', 'timers'];
const isCount = (value: unknown): boolean => typeof value === 'number' && Number.isFinite(value) && value >= 0;
const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

async function checkEntry(t: Test, entry: CorpusEntry, dir: string): Promise<void> {
    t.match(entry.file, /^[\w-]+\.(?:mjs|cjs)$/, 'a program file in its directory');
    const source = await readFile(resolve(dir, entry.file), 'utf8');
    t.match(source, /lib\/corpus\.mjs/, 'uses the corpus runtime');
    t.equal(entry.signal !== null, entry.leaky, 'leaky ⇔ a signal');
    t.equal(entry.onsetSeconds !== null, entry.leaky, 'leaky ⇔ an onset');
    t.equal(entry.leakRatePerHourBytes !== null, entry.leaky, 'leaky ⇔ a leak rate');
    t.equal(entry.allocatingFunction !== null, entry.leaky, 'leaky ⇔ an allocating function');
    t.equal(entry.holder !== null, entry.leaky, 'leaky ⇔ a holder');
    t.ok(entry.restartEverySeconds === null || (isCount(entry.restartEverySeconds) && entry.restartEverySeconds > 0), 'restartEverySeconds: null or > 0');
    t.ok(entry.plateauAfterSeconds === null || isCount(entry.plateauAfterSeconds), 'plateauAfterSeconds: null or ≥ 0');
    t.ok(Array.isArray(entry.nodeArgs) && entry.nodeArgs.every((a) => a.startsWith('--')), 'nodeArgs: node flags');
    t.ok(entry.notes.length > 40, 'has notes');
    t.ok(entry.memoryLimitMiB === undefined || (isCount(entry.memoryLimitMiB) && entry.memoryLimitMiB >= 512), 'memoryLimitMiB: absent (512) or larger');
    if (entry.leaky) {
      t.ok(entry.signal === 'heap' || entry.signal === 'external', `signal ${entry.signal}`);
      t.ok(isCount(entry.onsetSeconds), 'onset in speed-1 seconds');
      t.ok(isCount(entry.leakRatePerHourBytes) && entry.leakRatePerHourBytes! > 0, 'leak rate in bytes per hour');
      const holder = entry.holder!;
      t.ok(KINDS.includes(holder.kind), `holder kind ${holder.kind}`);
      t.ok(
        typeof holder.elementShape === 'string' ||
          (Array.isArray(holder.elementShape) && holder.elementShape.length > 0 && holder.elementShape.every((p) => typeof p === 'string')),
        'elementShape: property names or a constructor name',
      );
      const holderPath = resolve(dir, holder.script);
      await t.resolves(access(holderPath), `holder script ${holder.script} exists`);
      const holderSource = await readFile(holderPath, 'utf8');
      const field = holder.variable.split('.').at(-1)!;
      t.match(holderSource, new RegExp(`\\b${escape(field)}\\b`), `${holder.script} names ${field}`);
      const name = entry.allocatingFunction!;
      const declared = new RegExp(`(?:\\bfunction ${escape(name)}\\s*\\(|^\\s*${escape(name)}\\s*\\([^)]*\\)\\s*\\{)`, 'm');
      t.ok(declared.test(source) || declared.test(holderSource), `declares ${name} (function or method)`);
      if (Array.isArray(holder.elementShape) && holder.kind !== 'timers') {
        const both = source + holderSource;
        const missing = holder.elementShape.filter((p) => !new RegExp(`\\b${escape(p)}\\b`).test(both));
        t.same(missing, [], 'every element property appears in the code');
      }
    } else {
      t.equal(entry.plateauAfterSeconds === undefined, false, 'healthy entries say when they plateau (or null)');
    }
}

t.test('manifest', async (t) => {
  t.ok(manifest.length >= 18, `${manifest.length} programs`);
  t.equal(new Set(manifest.map((e) => e.name)).size, manifest.length, 'names are unique');
  t.ok(manifest.some((e) => e.leaky) && manifest.some((e) => !e.leaky), 'leaky and healthy programs');
  t.ok(manifest.some((e) => e.file.endsWith('.cjs')) && manifest.some((e) => e.file.endsWith('.mjs')), 'ESM and CommonJS programs');
  for (const entry of manifest) t.test(entry.name, (t) => checkEntry(t, entry, corpusDir));
});

// The held-out corpus (test/corpus-heldout/, same protocol): its entries are checked the same way.
const heldoutDir = resolve(repoRoot, 'test/corpus-heldout');
const heldout = JSON.parse(await readFile(resolve(heldoutDir, 'manifest.json'), 'utf8')) as CorpusEntry[];

t.test('held-out manifest', async (t) => {
  t.equal(new Set([...manifest, ...heldout].map((e) => e.name)).size, manifest.length + heldout.length, 'names are unique across both corpora');
  for (const entry of heldout) t.test(entry.name, (t) => checkEntry(t, entry, heldoutDir));
});

// The fresh corpus (test/corpus-fresh/, same protocol, written by a session that had read neither
// the analysis code nor the other corpora's programs): checked the same way, and started too.
const freshDir = resolve(repoRoot, 'test/corpus-fresh');
const fresh = JSON.parse(await readFile(resolve(freshDir, 'manifest.json'), 'utf8')) as CorpusEntry[];

/** A later corpus's manifest: names unique across it and the corpora before it, leaky and healthy programs, each entry checked. */
function checkLaterCorpus(t: Test, entries: CorpusEntry[], dir: string, before: CorpusEntry[], corpora: string): void {
  const all = [...before, ...entries];
  t.equal(new Set(all.map((e) => e.name)).size, all.length, `names are unique across the ${corpora} corpora`);
  t.ok(entries.some((e) => e.leaky) && entries.some((e) => !e.leaky), 'leaky and healthy programs');
  for (const entry of entries) t.test(entry.name, (t) => checkEntry(t, entry, dir));
}

t.test('fresh manifest', async (t) => checkLaterCorpus(t, fresh, freshDir, [...manifest, ...heldout], 'three'));

// The traffic corpus (test/corpus-traffic/, same protocol, written the same way on 2026-12-04 from
// one line each: HTTP services whose traffic peaks, bursts, steps or cycles, or stays while the
// loop gets busier): checked the same way, not started (see below).
const trafficDir = resolve(repoRoot, 'test/corpus-traffic');
const traffic = JSON.parse(await readFile(resolve(trafficDir, 'manifest.json'), 'utf8')) as CorpusEntry[];

t.test('traffic manifest', async (t) => checkLaterCorpus(t, traffic, trafficDir, [...manifest, ...heldout, ...fresh], 'four'));

// The floors corpus (test/corpus-floors/, same protocol, written the same way on 2026-12-04 from one
// line each: rare big temporaries, a small cache that fills then plateaus, slow leaks in small
// heaps, a registry that balloons in a reconnect storm and drains): checked, not started (as above).
const floorsDir = resolve(repoRoot, 'test/corpus-floors');
const floors = JSON.parse(await readFile(resolve(floorsDir, 'manifest.json'), 'utf8')) as CorpusEntry[];

t.test('floors manifest', async (t) => checkLaterCorpus(t, floors, floorsDir, [...manifest, ...heldout, ...fresh, ...traffic], 'five'));

// The self-loading corpus (test/corpus-selfload/, same protocol, written the same way on 2026-12-04
// from one line each, after the slow path learnt to compare at the same HTTP traffic: leaked
// subscribers and listeners that run on every event, a batch job every few hours, heavier requests
// at the same rate, long-polls that ramp up and hold): checked, not started (as above).
const selfloadDir = resolve(repoRoot, 'test/corpus-selfload');
const selfload = JSON.parse(await readFile(resolve(selfloadDir, 'manifest.json'), 'utf8')) as CorpusEntry[];

t.test('selfload manifest', async (t) => checkLaterCorpus(t, selfload, selfloadDir, [...manifest, ...heldout, ...fresh, ...traffic, ...floors], 'six'));

// The small-heap corpus (test/corpus-slowsmall/, same protocol, written the same way on 2026-12-04
// from one line each, after the slow path's buckets were halved: leaks of 2-3 MB/h in HTTP services
// of 5-40 MB, and sessions, a morning ramp and an LRU that fill for 1.5-3 h): checked, not started.
const slowsmallDir = resolve(repoRoot, 'test/corpus-slowsmall');
const slowsmall = JSON.parse(await readFile(resolve(slowsmallDir, 'manifest.json'), 'utf8')) as CorpusEntry[];

t.test('slowsmall manifest', async (t) =>
  checkLaterCorpus(t, slowsmall, slowsmallDir, [...manifest, ...heldout, ...fresh, ...traffic, ...floors, ...selfload], 'seven'));

t.test('programs start, report and stop', { jobs: 3 }, async (t) => {
  // The traffic, floors, selfload and slowsmall corpora are checked above, not started here: three more programs at 60× beside the
  // rest of the suite made this test's SIGTERM timing fail on the 2-core CI machine.
  const started = [...manifest.map((e) => ({ ...e, dir: corpusDir })), ...fresh.map((e) => ({ ...e, dir: freshDir }))];
  for (const entry of started) {
    t.test(entry.name, { buffered: true }, async (t) => {
      const target = await spawnTarget(t, {
        script: resolve(entry.dir, entry.file),
        env: { SCENARIO_SPEED: '60', SCENARIO_STATS_MS: '200' },
        nodeArgs: entry.nodeArgs,
        readyTimeoutMs: 15_000,
      });
      const lines = await waitFor(
        () => {
          const stats = target.stdout().split('\n').filter((line) => line.startsWith('stats '));
          return stats.length >= 2 ? stats : null;
        },
        { timeoutMs: 10_000, intervalMs: 50, what: `two stats lines from ${entry.name}` },
      );
      const first = JSON.parse(lines[0]!.slice('stats '.length)) as Record<string, unknown>;
      for (const key of ['t', 'simT', 'retained', 'heapUsed', 'external', 'arrayBuffers', 'rss']) {
        t.type(first[key], 'number', `stats carry ${key}`);
      }
      await target.kill();
      t.same(await target.exited, { code: 0, signal: null }, 'exits 0 on SIGTERM');
    });
  }
});
