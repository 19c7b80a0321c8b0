// Healthy, one-off step: an API gateway that re-reads its routing config every
// 10 minutes (speed 1). For the first hour the config has 600 tenants; the
// config published at ~1 h onboards a batch of new tenants (1 200 in all),
// so the compiled config (./config-store.cjs) doubles, from ~12 MB to ~24
// MB, and stays at that size. A step, not a leak: flat before and after.
//
// Speed 1: reload every 600 s (each reload parses a few MB of JSON and
// compiles it; the previous config becomes garbage), 30 routed requests/s.
// At SCENARIO_SPEED=60 the step happens at ~60 s.
// stats: retained = compiled rules.
'use strict';
const { loadConfig, route, currentConfig } = require('./config-store.cjs');

const RELOAD_EVERY_SECONDS = 600;
const STEP_AT_SECONDS = 3600;
const TENANTS_BEFORE = 600;
const TENANTS_AFTER = 1_200;
const RULES_PER_TENANT = 40;
const REQUESTS_PER_SECOND = 30;
const PLANS = ['free', 'team', 'business', 'enterprise'];

// What the config service publishes (the text the gateway would download).
function publishedConfig(version, tenantCount) {
  const tenants = [];
  for (let t = 0; t < tenantCount; t++) {
    const rules = [];
    for (let r = 0; r < RULES_PER_TENANT; r++) {
      rules.push({
        id: `t${t}-r${r}`,
        methods: r % 3 === 0 ? ['GET', 'HEAD'] : ['GET', 'POST', 'PUT'],
        path: `/api/v${1 + (r % 2)}/${['orders', 'users', 'invoices', 'reports', 'search'][r % 5]}/${r}*`,
        upstream: `http://svc-${r % 12}.tenant-${t}.svc.cluster.local:8080`,
        timeoutMs: 1000 + (r % 5) * 500,
        retries: r % 3,
        headers: r % 4 === 0 ? { 'x-tenant': `tenant-${t}`, 'x-route': `r${r}` } : undefined,
        rateLimit: 600 + (r % 10) * 60,
      });
    }
    tenants.push({ name: `tenant-${t}`, plan: PLANS[t % PLANS.length], rules });
  }
  return JSON.stringify({ version, generatedAt: new Date().toISOString(), tenants });
}

async function main() {
  const lib = await import('./lib/corpus.mjs');
  const ballastMB = lib.buildBallast();
  let version = 0;
  const reload = () => {
    const tenants = lib.programSeconds() >= STEP_AT_SECONDS - 1 ? TENANTS_AFTER : TENANTS_BEFORE;
    loadConfig(publishedConfig(++version, tenants));
  };
  reload();
  lib.every(lib.scaledMs(RELOAD_EVERY_SECONDS), reload);

  const random = lib.rng(17);
  const routed = { hits: 0, misses: 0 };
  lib.paced(REQUESTS_PER_SECOND, (due) => {
    const tenantCount = currentConfig().tenants.size;
    for (let i = 0; i < due; i++) {
      const r = Math.floor(random() * RULES_PER_TENANT);
      const rule = route(`tenant-${Math.floor(random() * tenantCount)}`, 'GET', `/api/v${1 + (r % 2)}/${['orders', 'users', 'invoices', 'reports', 'search'][r % 5]}/${r}/items`);
      if (rule === null) routed.misses++;
      else routed.hits++;
    }
  });

  lib.reportStats(() => ({ retained: currentConfig().ruleCount, version: currentConfig().version, routed: routed.hits, ballastMB }));
  lib.ready(`step-up-once: config doubles at ~${STEP_AT_SECONDS} s (speed 1), flat before and after`);
}

main();
