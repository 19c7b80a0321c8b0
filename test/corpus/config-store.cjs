// Routing-config store for the API gateway (step-up-once.cjs).
//
// The config (one JSON document: tenants and their routing rules) is parsed
// and compiled into `current`: a Map tenant → compiled rules. A reload builds
// the new structure completely, then swaps it in; the old one is garbage.
'use strict';

let current = { version: 0, tenants: new Map(), ruleCount: 0 };

function compileRule(rule) {
  return {
    id: rule.id,
    methods: new Set(rule.methods),
    prefix: rule.path.replace(/\*$/, ''),
    upstream: rule.upstream,
    timeoutMs: rule.timeoutMs,
    retries: rule.retries,
    headers: Object.entries(rule.headers ?? {}),
    rateLimit: { perMinute: rule.rateLimit, burst: Math.ceil(rule.rateLimit / 10) },
  };
}

function loadConfig(text) {
  const document = JSON.parse(text);
  const tenants = new Map();
  let ruleCount = 0;
  for (const tenant of document.tenants) {
    const rules = tenant.rules.map(compileRule).sort((a, b) => b.prefix.length - a.prefix.length);
    tenants.set(tenant.name, { name: tenant.name, plan: tenant.plan, rules });
    ruleCount += rules.length;
  }
  current = { version: document.version, tenants, ruleCount };
  return current;
}

function route(tenantName, method, path) {
  const tenant = current.tenants.get(tenantName);
  if (tenant === undefined) return null;
  for (const rule of tenant.rules) {
    if (rule.methods.has(method) && path.startsWith(rule.prefix)) return rule;
  }
  return null;
}

function currentConfig() {
  return current;
}

module.exports = { loadConfig, route, currentConfig };
