import t from 'tap';
import CDP from 'chrome-remote-interface';
import { freePort, repoRoot, spawnTarget, waitFor, type SpawnedTarget } from './targets.js';

interface InspectorTarget {
  type: string;
  webSocketDebuggerUrl?: string;
}

async function listTargets(target: SpawnedTarget): Promise<InspectorTarget[]> {
  const res = await fetch(`http://${target.host}:${target.port}/json/list`);
  return (await res.json()) as InspectorTarget[];
}

async function evaluate(target: SpawnedTarget, expression: string): Promise<unknown> {
  const client = await CDP({ host: target.host, port: target.port, local: true });
  try {
    const { result } = await client.Runtime.evaluate({ expression, returnByValue: true });
    return result.value;
  } finally {
    await client.close();
  }
}

t.test('repoRoot points at the repository', async (t) => {
  t.match(repoRoot, /^\//);
  t.notMatch(repoRoot, /\/$/);
  const { default: pkg } = await import(`${repoRoot}/package.json`, { with: { type: 'json' } });
  t.equal((pkg as { name: string }).name, 'leakwatch');
});

for (const script of ['test/fixtures/targets/cjs-target.cjs', 'test/fixtures/targets/esm-target.mjs']) {
  t.test(`spawns ${script} with an inspector`, async (t) => {
    const target = await spawnTarget(t, { script });
    t.equal(target.host, '127.0.0.1');
    t.ok(target.port > 0, 'inspector port parsed');
    t.match(target.stdout(), /^ready$/m);

    const list = await listTargets(target);
    t.ok(list.some((x) => x.type === 'node' && x.webSocketDebuggerUrl?.includes(`127.0.0.1:${target.port}`)));
    t.equal(await evaluate(target, 'typeof process.getBuiltinModule'), 'function');

    await target.kill();
    const { code, signal } = await target.exited;
    t.ok(code !== null || signal !== null, 'child exited');
    await target.kill(); // no-op once exited
  });
}

t.test('LEAK=1 fixture grows its leaked array', async (t) => {
  const target = await spawnTarget(t, { script: 'test/fixtures/targets/cjs-target.cjs', env: { LEAK: '1' } });
  await waitFor(async () => Number(await evaluate(target, 'globalThis.__leakwatchFixtureLeak.length')) >= 20, {
    timeoutMs: 5_000,
    intervalMs: 100,
    what: 'leaked array to reach 20 entries',
  });
  t.pass('leaking');
});

t.test('preload removes process.getBuiltinModule in the ESM target', async (t) => {
  const target = await spawnTarget(t, {
    script: 'test/fixtures/targets/esm-target.mjs',
    nodeArgs: ['--require', `${repoRoot}/test/fixtures/no-builtin-module.cjs`],
  });
  t.equal(await evaluate(target, 'typeof process.getBuiltinModule'), 'undefined');
});

t.test('fixed inspector port can be reused after a restart', async (t) => {
  const port = await freePort();
  const first = await spawnTarget(t, { script: 'test/fixtures/targets/cjs-target.cjs', inspectPort: port });
  t.equal(first.port, port);
  await first.kill();
  const second = await spawnTarget(t, { script: 'test/fixtures/targets/esm-target.mjs', inspectPort: port });
  t.equal(second.port, port);
  t.not(second.pid, first.pid);
  t.ok((await listTargets(second)).length > 0);
});

t.test('busy inspector port rejects with captured output', async (t) => {
  const first = await spawnTarget(t, { script: 'test/fixtures/targets/cjs-target.cjs' });
  await t.rejects(
    spawnTarget(t, { script: 'test/fixtures/targets/cjs-target.cjs', inspectPort: first.port, readyTimeoutMs: 5_000 }),
    /inspector did not start[\s\S]*--- stderr ---/,
  );
});

t.test('waitFor', async (t) => {
  let n = 0;
  t.equal(await waitFor(() => (++n >= 3 ? n : 0), { timeoutMs: 1_000, intervalMs: 1, what: 'n' }), 3);
  await t.rejects(waitFor(() => 0, { timeoutMs: 50, intervalMs: 10, what: 'never' }), /waiting for never; last value: 0/);
  await t.rejects(
    waitFor(
      () => {
        throw new Error('boom');
      },
      { timeoutMs: 50, what: 'thrower' },
    ),
    /waiting for thrower; last error: Error: boom/,
  );
});

interface DemoStats {
  uptimeSeconds: number;
  published: number;
  maxQueueLength: number;
  subscribers: { name: string; queueLength: number; consumerAlive: boolean }[];
}

async function spawnDemo(t: Parameters<typeof spawnTarget>[0], env: Record<string, string>) {
  const target = await spawnTarget(t, {
    script: 'deploy/demo/app.mjs',
    env: { DEMO_PORT: '0', DEMO_LEAK_AFTER: '1', DEMO_RPS: '200', ...env },
  });
  const m = /demo app listening on (http:\/\/127\.0\.0\.1:(\d+))/.exec(target.stdout());
  if (!m) throw new Error(`no start line in demo output:\n${target.stdout()}`);
  const base = m[1]!;
  const stats = async () => (await (await fetch(`${base}/stats`)).json()) as DemoStats;
  return { target, base, stats };
}

t.test('demo app leaks after the onset', async (t) => {
  const { target, base, stats } = await spawnDemo(t, {});
  t.match(target.stdout(), /\(leak starts after 1s\)/);
  t.same(await (await fetch(`${base}/`)).json(), { hello: 'leakwatch demo', pid: target.pid, leak: true });

  await waitFor(() => /leak started: consumer "email-notifier"/.test(target.stdout()), {
    timeoutMs: 10_000,
    what: 'the leak-start line',
  });
  const queueOf = (s: DemoStats) => s.subscribers.find((x) => x.name === 'email-notifier')!.queueLength;
  const before = queueOf(await stats());
  const after = await waitFor(
    async () => {
      const s = await stats();
      return queueOf(s) >= before + 200 && s;
    },
    { timeoutMs: 10_000, intervalMs: 100, what: 'email-notifier queue to grow by 200' },
  );
  t.ok(queueOf(after) >= before + 200, `queue grew ${before} -> ${queueOf(after)}`);
  t.notOk(after.subscribers.find((x) => x.name === 'email-notifier')!.consumerAlive);
  for (const s of after.subscribers.filter((x) => x.name !== 'email-notifier')) {
    t.ok(s.consumerAlive && s.queueLength < 200, `${s.name} keeps draining (${s.queueLength})`);
  }

  // Clean shutdown on SIGTERM with an inspector client attached. Node keeps a
  // process alive at exit until attached clients disconnect, so the client
  // must detach when the execution context is destroyed (as leakwatch should).
  const client = await CDP({ host: target.host, port: target.port, local: true });
  t.teardown(() => client.close().catch(() => {}));
  client.on('Runtime.executionContextDestroyed', () => void client.close().catch(() => {}));
  await client.Runtime.enable();
  target.child.kill('SIGTERM');
  t.same(await target.exited, { code: 0, signal: null });
  t.match(target.stdout(), /received SIGTERM, shutting down/);
});

t.test('demo app with DEMO_LEAK=0 stays bounded', async (t) => {
  const { target, stats } = await spawnDemo(t, { DEMO_LEAK: '0' });
  t.match(target.stdout(), /\(leak disabled\)/);
  // Let well over a second of traffic (and the would-be onset) pass.
  const s = await waitFor(
    async () => {
      const s = await stats();
      return s.uptimeSeconds >= 2.5 && s.published >= 300 && s;
    },
    { timeoutMs: 10_000, intervalMs: 100, what: 'healthy demo to publish 300 messages' },
  );
  t.ok(s.maxQueueLength < 200, `max queue length ${s.maxQueueLength} stays bounded`);
  t.ok(s.subscribers.every((x) => x.consumerAlive), 'all consumers alive');
  t.notMatch(target.stdout(), /leak started/);
});
