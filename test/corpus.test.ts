// The production-time corpus (test/corpus/): every manifest entry is
// well-formed (its files, holder and allocating function exist as named), and
// every program starts under the inspector at SCENARIO_SPEED=60, prints `ready`
// and `stats` lines, and exits 0 on SIGTERM. Whether each program really leaks
// or stays flat as labelled is the job of test/corpus/check.mjs (minutes, not
// seconds: see test/corpus/README.md).
import { access, readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import t, { type Test } from 'tap';
import { LATER_CORPORA } from '../bench/real/programs.js';
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
  signal: 'heap' | 'external' | 'rss' | null;
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
      t.ok(entry.signal === 'heap' || entry.signal === 'external' || entry.signal === 'rss', `signal ${entry.signal}`);
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

/** A later corpus's manifest: names unique across it and the corpora before it, leaky and healthy programs, each entry checked. */
function checkLaterCorpus(t: Test, entries: CorpusEntry[], dir: string, before: CorpusEntry[], corpora: number): void {
  const all = [...before, ...entries];
  t.equal(new Set(all.map((e) => e.name)).size, all.length, `names are unique across the ${corpora} corpora`);
  t.ok(entries.some((e) => e.leaky) && entries.some((e) => !e.leaky), 'leaky and healthy programs');
  for (const entry of entries) t.test(entry.name, (t) => checkEntry(t, entry, dir));
}

// The corpora written after test/corpus (bench/real/programs.ts LATER_CORPORA: held-out, fresh,
// traffic, floors, selfload, slowsmall, ..., same protocol, each written from one line per program
// by a session that had read neither the analysis code nor the other corpora's programs), in the
// order they were written: each checked the same way. Only the fresh one is started below: more
// programs at 60× beside the rest of the suite made that test's SIGTERM timing fail on the 2-core
// CI machine.
const later = await Promise.all(
  Object.entries(LATER_CORPORA).map(async ([name, { folder }]) => {
    const dir = resolve(repoRoot, 'test', folder);
    return { name, dir, entries: JSON.parse(await readFile(resolve(dir, 'manifest.json'), 'utf8')) as CorpusEntry[] };
  }),
);
for (const [index, corpus] of later.entries()) {
  const before = [manifest, ...later.slice(0, index).map((c) => c.entries)].flat();
  t.test(`${corpus.name} manifest`, async (t) => checkLaterCorpus(t, corpus.entries, corpus.dir, before, index + 2));
}
const fresh = later.find((c) => c.name === 'fresh')!;

t.test('programs start, report and stop', { jobs: 3 }, async (t) => {
  const started = [...manifest.map((e) => ({ ...e, dir: corpusDir })), ...fresh.entries.map((e) => ({ ...e, dir: fresh.dir }))];
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
      // A program building a big temporary (leak-under-sawtooth) can take over 2 s to reach its
      // SIGTERM handler on a loaded 2-core machine: the exit code is what is checked, not the time.
      await target.kill('SIGTERM', 15_000);
      t.same(await target.exited, { code: 0, signal: null }, 'exits 0 on SIGTERM');
    });
  }
});
