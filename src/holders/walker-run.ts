/**
 * Part of the holder walker's in-target source (begin/step/takeFunctions, the report (paths, re-measure, rank), page and end, and registration).
 * Fixed text only: see src/holders/walker.ts for the rules and how the parts
 * are joined into one function body. Not valid JavaScript on its own.
 */
export const WALKER_RUN_SOURCE = `
  const touch = (c) => { c.lastActive = perfNow(); try { c.watchdog.refresh(); } catch (e) {} };
  const dropSearch = (c) => { if (state.cur === c) state.cur = null; try { clearTimer(c.watchdog); } catch (e) {} };

  const begin = (o) => {
    if (state.cur !== null) {
      if (perfNow() - state.cur.lastActive < o.watchdogMs) return { ok: false, busy: true };
      dropSearch(state.cur);
    }
    const c = {
      o, startedMs: perfNow(), lastActive: perfNow(), watchdog: null,
      visited: new WS(), listEnds: new WS(), listLast: new WM(), lists: [], listMs: 0, stringSeen: new NMap(), refFile: new NMap(), pathMemo: new NMap(), listCont: new WM(), privateCount: new WM(), nodeCode: new NMap(), chains: 0, chainSeen: new WS(), opened: new WS(), codeCount: new NMap(), codeNode: new NMap(), refOfNode: new NMap(), truncSeen: new NMap(), truncated: [],
      buckets: [], minDepth: 0, queued: 0, // breadth first: one FIFO per depth, the shallowest first
      np: [], nt: [], nk: [], nx: [], nx2: [], nf: [], nd: [], rootKinds: new NMap(),
      fns: [], fnMeta: [], fnSize: [], fnDepth: [], fnMinDepth: Infinity, fnBase: 0, notOpened: 0, builtinsIntact: builtinsIntact(),
      measured: [], out: null, memberVisits: new NMap(),
      visits: 0, slices: 0, longestSliceMs: 0, longestStepMs: 0, stepsOver: 0, errors: 0, proxies: 0,
      weakSkipped: 0, hugeSkipped: 0, sampledCollections: 0, scopesAdded: 0, trackedRemeasured: 0,
    };
    state.cur = c;
    state.searches++;
    const t0 = perfNow();
    c.watchdog = setTimer(() => dropSearch(c), o.watchdogMs);
    try { c.watchdog.unref(); } catch (e) {}
    // Never walked: this walker, leakwatch's agent, the environment, the global object itself.
    wsAdd(c.visited, state); wsAdd(c.visited, g);
    try {
      const a = g[AGENT];
      if (isObj(a)) {
        wsAdd(c.visited, a);
        // Its parts and their state too: closures of its own (a GC observer, an immediate) reach
        // them without going through the agent object.
        const parts = dataValue(a, 'parts');
        if (isObj(parts)) {
          wsAdd(c.visited, parts);
          const names = ownKeys(parts);
          for (let i = 0; i < names.length; i++) {
            const part = dataValue(parts, names[i]);
            if (!isObj(part)) continue;
            wsAdd(c.visited, part);
            const st = dataValue(part, 'state');
            if (isObj(st)) wsAdd(c.visited, st);
          }
        }
        const env = dataValue(a, 'env');
        if (isObj(env)) wsAdd(c.visited, env);
      }
    } catch (e) {}
    try { const env = dataValue(process, 'env'); if (isObj(env)) wsAdd(c.visited, env); } catch (e) {}
    wsAdd(c.visited, process);
    wsAdd(c.visited, c); wsAdd(c.visited, c.watchdog);
    // The timers' scope first, then one function per module (its scope is the module's), then the rest.
    if (timersModule && typeof timersModule.setTimeout === 'function') addFunction(c, timersModule.setTimeout, -1, ROLE_TIMERS, '');
    rootExports(c);
    rootGlobals(c);
    rootProcess(c);
    rootHandles(c);
    const ms = perfNow() - t0;
    if (ms > c.longestSliceMs) c.longestSliceMs = ms;
    return { ok: true, busy: false, beginMs: ms, queued: c.queued + c.lists.length, pendingFunctions: c.fns.length - c.fnBase,
      installId: state.installId, cwd: hello(false).cwd, mainFile: mainFile(), mainIndex: mainIndex() };
  };

  const progress = (c, sliceMs) => ({
    ok: true, sliceMs, visits: c.visits, queued: c.queued + c.lists.length, pendingFunctions: c.fns.length - c.fnBase,
    nodes: c.np.length, capped: c.visits >= c.o.maxVisits,
  });

  const step = (budgetMs) => {
    const c = state.cur;
    if (c === null) return { ok: false };
    touch(c);
    const t0 = perfNow();
    const deadline = t0 + budgetMs;
    let longest = 0;
    countLists(c, deadline);
    while (c.queued > 0 && c.lists.length === 0) {
      if (c.visits >= c.o.maxVisits) { trunc(c, 'objects visited'); break; }
      // Functions waiting to be opened: their scopes are roots (module variables) or one level
      // below them; walk no deeper than that until the sidecar has opened them.
      const waiting = c.fns.length - c.fnBase;
      if (waiting >= 64) break;
      let b = c.buckets[c.minDepth];
      while (b === undefined || b.head >= b.o.length) {
        if (b !== undefined) { b.o = []; b.n = []; b.head = 0; }
        c.minDepth++;
        if (c.minDepth >= c.buckets.length) { c.queued = 0; break; }
        b = c.buckets[c.minDepth];
      }
      if (c.queued === 0) break;
      if (waiting > 0 && c.minDepth > c.fnMinDepth + 1) break;
      const ts = perfNow();
      if (ts >= deadline) break;
      const o = b.o[b.head], n = b.n[b.head];
      b.o[b.head] = undefined;
      b.head++;
      c.queued--;
      c.visits++;
      try { visit(c, o, n); } catch (e) { c.errors++; }
      const d = perfNow() - ts;
      if (d > longest) longest = d;
      if (b.head > 4096 && b.head * 2 > b.o.length) { b.o = slice(b.o, b.head); b.n = slice(b.n, b.head); b.head = 0; }
    }
    const ms = perfNow() - t0;
    c.slices++;
    if (ms > c.longestSliceMs) c.longestSliceMs = ms;
    if (longest > c.longestStepMs) c.longestStepMs = longest;
    if (longest > budgetMs) c.stepsOver++;
    return progress(c, ms);
  };

  // The next functions to open, as one array [fn, meta, fn, meta, ...] returned by reference.
  const takeFunctions = (n) => {
    const c = state.cur;
    if (c === null) return [];
    touch(c);
    const out = [];
    const end = MathMin(c.fns.length, c.fnBase + n);
    let bytes = 0, i = c.fnBase;
    // A batch's reply carries every function's source: at most ~512 KB of it (at least one function).
    for (; i < end && (i === c.fnBase || bytes + c.fnSize[i] <= 524288); i++) {
      bytes += c.fnSize[i];
      push(out, c.fns[i]); push(out, c.fnMeta[i]); c.fns[i] = undefined;
    }
    c.fnBase = i;
    c.fnMinDepth = Infinity;
    for (let j = i; j < c.fns.length; j++) if (c.fnDepth[j] < c.fnMinDepth) c.fnMinDepth = c.fnDepth[j];
    return out;
  };

  // ---- the report ----
  const keyLabel = (k) => {
    if (typeof k === 'string') return quote(k);
    if (typeof k === 'number' || typeof k === 'boolean' || typeof k === 'bigint' || k === null || k === undefined) return String(k);
    if (typeof k === 'symbol') return 'Symbol(' + copyStr(symDesc(k) || '', 40) + ')';
    return '<' + describe(k) + '>';
  };
  const stepLabel = (c, i) => {
    const t = c.nt[i], k = c.nk[i];
    switch (t) {
      case N_PROP: return reTest(DOT_NAME, k) ? '.' + copyStr(k, 60) : '[' + quote(k) + ']';
      case N_PRIVATE: return '.' + copyStr(k, 60); // a private field, '#name'
      case N_SYMBOL: return '[Symbol(' + copyStr(symDesc(k) || '', 40) + ')]';
      case N_INDEX: return '[' + k + ']';
      case N_MAPVAL: return 'get(' + keyLabel(k) + ')';
      case N_MAPKEY: return 'key #' + k;
      case N_SETMEMBER: return 'member #' + k;
      case N_PROTO: return '[[Prototype]]';
      case N_TIMER: return c.nx[i] === 2 ? 'setImmediate()' : (c.nx[i] === 1 ? 'setInterval(' : 'setTimeout(') + k + ' ms)';
      case N_BOUND_THIS: return '[[BoundThis]]';
      case N_BOUND_TARGET: return '[[TargetFunction]]';
      case N_BOUND_ARGS: return '[[BoundArgs]]';
      default: return '?';
    }
  };
  // Root token (rendered by the sidecar, which knows scripts) and the steps after it.
  const pathOf = (c, n) => {
    const chain = [];
    let i = n, guard = 0;
    while (i >= 0 && guard < 10000) { push(chain, i); i = c.np[i]; guard++; }
    chain.reverse();
    let elided = 0;
    if (chain.length > 64) {
      // A long chain (a linked list): the root, the first steps and the last ones.
      elided = chain.length - 57;
      const head = slice(chain, 0, 9), tail = slice(chain, chain.length - 48);
      chain.length = 0;
      for (let j = 0; j < head.length; j++) push(chain, head[j]);
      push(chain, -1);
      for (let j = 0; j < tail.length; j++) push(chain, tail[j]);
    }
    let root = null;
    const steps = [];
    for (let j = 0; j < chain.length; j++) {
      const id = chain[j];
      if (id === -1) { push(steps, '\u2026 ' + elided + ' steps \u2026'); continue; }
      const t = c.nt[id], k = c.nk[id];
      if (j === 0) {
        const rk = nmGet(c.rootKinds, id) || '';
        if (t === N_GLOBAL) root = { type: 'global', name: copyStr(String(k), 80), kind: rk };
        else if (t === N_EXPORT) root = { type: 'export', file: copyStr(String(k), 400), kind: rk };
        else if (t === N_HANDLE) root = { type: 'handle', name: String(k) + ' #' + c.nx[id], kind: rk };
        else if (t === N_SCOPE) root = { type: 'module', name: copyStr(String(k), 80), ref: c.nx[id], scope: c.nx2[id] || '', kind: rk };
        else if (t === N_PROCESS) root = { type: 'process', name: copyStr(String(k), 80), kind: rk };
        else if (t === N_TIMERS) root = { type: 'timers' };
        else if (t === N_IMMEDIATE) root = { type: 'immediates' };
        else root = { type: 'unknown' };
        continue;
      }
      if (t === N_CLOSURE) push(steps, { closure: copyStr(String(k), 80), ref: c.nx[id], scope: c.nx2[id] || '' });
      else push(steps, stepLabel(c, id));
    }
    return { root, steps, depth: chain.length };
  };
  const measureNow = (o, kind) => {
    if (kind === K_ARRAY) return o.length;
    if (kind === K_MAP) return mapSize(o);
    if (kind === K_SET) return setSize(o);
    if (kind === K_TIMERS) return timerCount(o);
    return null;
  };
  const samplesOf = (o, kind, stored) => {
    const out = [], keys = [];
    try {
      if (kind === K_ARRAY) {
        const len = o.length;
        if (len > 0) { push(out, o[0]); if (len > 2) push(out, o[floor(len / 2)]); if (len > 1) push(out, o[len - 1]); }
      } else if (kind === K_MAP) {
        const it = mapEntries(o);
        for (let i = 0; i < 3; i++) { const r = mapIterNext(it); if (r.done) break; push(keys, r.value[0]); push(out, r.value[1]); }
      } else if (kind === K_SET) {
        const it = setValues(o);
        for (let i = 0; i < 3; i++) { const r = setIterNext(it); if (r.done) break; push(out, r.value); }
      } else if (kind === K_TIMERS) {
        const own = ownWatchdog();
        let a = o._idleNext;
        if (a === own && isObj(a)) a = a._idleNext;
        const z = o._idlePrev;
        if (isObj(a) && a !== o) push(out, a);
        if (isObj(z) && z !== o && z !== a) push(out, z);
      } else if (kind === K_LIST && stored === null) {
        // Its first node and the next.
        const k = wmGet(state.links, o);
        push(out, o);
        const v = k === undefined ? undefined : dataValue(o, k);
        if (isObj(v)) push(out, v);
      } else if (stored !== null) {
        for (let i = 0; i < stored.length; i++) push(out, stored[i]);
      }
    } catch (e) {}
    return { values: out, keys };
  };
  const uniq = (arr) => { const seen = new NMap(), out = []; for (let i = 0; i < arr.length; i++) if (nmGet(seen, arr[i]) === undefined) { nmSet(seen, arr[i], true); push(out, arr[i]); } return out; };
  const tableBytes = (kind, size) => kind === K_ARRAY ? 32 + 8 * size : kind === K_MAP ? 48 + 40 * size : kind === K_SET ? 48 + 32 * size : kind === K_TIMERS || kind === K_LIST ? 0 : kind === K_STRING ? 16 + size : 24 + 40 * size;
  const idOf = (o) => { let id = wmGet(state.ids, o); if (id === undefined) { id = state.nextId++; wmSet(state.ids, o, id); } return id; };

  const finish = () => {
    const c = state.cur;
    if (c === null) return { ok: false };
    touch(c);
    const t0 = perfNow();
    // Lists still being counted (the walk was stopped): in part.
    for (let i = 0; i < c.lists.length; i++) listInPart(c, c.lists[i]);
    c.lists = [];
    // Re-measure tracked collections the walk did not reach.
    const alive = [];
    for (let i = 0; i < state.tracked.length; i++) {
      const tr = state.tracked[i];
      const o = wrDeref(tr.ref);
      if (o === undefined) continue;
      push(alive, tr);
      if (wsHas(c.visited, o)) continue;
      // A linked list is known by the node the walk met it at; a node met earlier may since have
      // left it (a dequeued head still links into the queue) or be any node of a ring: a list the
      // walk did not reach is not measured from such a node.
      if (tr.kind === K_LIST) continue;
      let size = measureNow(o, tr.kind);
      if (size === null) {
        const h = wmGet(state.huge, o);
        if (h !== undefined && h > c.o.maxStepMs) {
          c.hugeSkipped++;
          const p = wmGet(state.rec, o);
          if (p !== undefined) push(c.measured, [o, -1, decSize(p), -1, tr.kind, decDs(p), null, true]);
          continue;
        }
        size = objectKeys(o).length;
      }
      const prev = wmGet(state.rec, o);
      const ds = nowDs();
      const floors = closeInterval(o, size);
      wmSet(state.rec, o, enc(size, ds));
      push(c.measured, [o, -1, size, prev === undefined ? -1 : prev, tr.kind, ds, null, false, floors]);
      c.trackedRemeasured++;
    }
    state.tracked = alive;
    if (state.byPath.size > 4096) state.byPath = new NMap();
    // Rank: growth per second first, then size.
    const rows = [];
    for (let i = 0; i < c.measured.length; i++) {
      const m = c.measured[i];
      let growth = null, prevSize = -1, dt = 0, pk;
      let prev = m[7] !== true && m[3] >= 0 ? m[3] : undefined;
      if (m[1] >= 0 && m[7] !== true && m[2] >= c.o.minSize && (m[4] === K_ARRAY || m[4] === K_MAP || m[4] === K_SET || m[4] === K_LIST || m[4] === K_STRING)) {
        const key = byPathKey(c, m[1], m[4]);
        pk = key;
        if (key !== null) {
          const rec = prev === undefined ? nmGet(state.byPath, key) : undefined;
          if (rec !== undefined && continues(m[0], m[4], m[2], rec[1])) prev = rec[0];
          nmSet(state.byPath, key, [enc(m[2], m[5]), anchorsOf(m[0], m[4], m[2])]);
        }
      }
      if (prev !== undefined) {
        prevSize = decSize(prev);
        dt = elapsedS(decDs(prev), m[5]);
        growth = dt > 0 ? (m[2] - prevSize) / dt : 0;
      }
      push(rows, { m, growth, prevSize, dt, pk });
    }
    // [lowest size since the previous measurement, the same of the interval before or -1] when
    // sampled in between and the previous size is this collection's own (not a copy's at its path).
    const floorsOf = (r) => { const fl = r.m[8]; return fl !== null && fl !== undefined && fl[0] >= 0 && r.m[7] !== true && r.m[3] >= 0 && r.growth !== null ? fl : null; };
    const { familyOut, parentGained } = sumFamilies(c, rows, floorsOf);
    // Turnover at a path: of the members sampled at a path when the collection there was last
    // reported, how many the collection at that path holds now (the same one, or the copy that
    // replaced it: a window compacted by slice still holds the members not yet expired, a batch
    // replaced by a fresh one none). Summed over each family's members: how members come and go
    // is a property of how collections are used, and siblings are used alike (the report judges
    // a family, and a member without a turnover of its own, by it: siblings.ts). Bounded: the
    // paths of the last report (at most PER_FAMILY a family), and maxStepMs.
    // A row's path key (as byPath's; computed above for collections of minSize or more, here on
    // demand for the smaller ones: a family of windows of a few members each), or null.
    const keyOf = (r) => {
      if (r.pk === undefined) r.pk = r.m[1] >= 0 && r.m[7] !== true && (r.m[4] === K_ARRAY || r.m[4] === K_MAP || r.m[4] === K_SET) ? byPathKey(c, r.m[1], r.m[4]) : null;
      return r.pk;
    };
    const oldPaths = state.pathProbes;
    state.pathProbes = new NMap();
    for (let i = 0; i < rows.length && oldPaths.size > 0; i++) {
      const r = rows[i];
      if (r.fam === undefined || perfNow() - t0 > c.o.maxStepMs || keyOf(r) === null) continue;
      const before = nmGet(oldPaths, r.pk);
      if (before === undefined || before === null || !(before[5] >= PROBE_MIN_SIZE)) continue;
      const tv = turnoverOf(r.m[0], r.m[4], before);
      r.pathTurnover = [before, tv]; // for the report below, when it probes with the same members
      if (tv !== null) { r.fam.gone += tv[0]; r.fam.probed += tv[1]; }
    }
    const byGrowth = sortArr(slice(rows, 0), (a, b) => (b.growth === null ? -Infinity : b.growth) - (a.growth === null ? -Infinity : a.growth));
    const bySize = sortArr(slice(rows, 0), (a, b) => b.m[2] - a.m[2]);
    const chosen = [];
    const taken = new WS();
    // At most PER_FAMILY members of one sibling family: the report judges a family on its sums
    // over every member (above), and forty equal per-user arrays must not crowd another family
    // (per-connection outboxes growing beside them) out of the report.
    const PER_FAMILY = 4;
    const famTaken = new NMap();
    const take = (r) => {
      if (wsHas(taken, r.m[0]) || chosen.length >= c.o.maxHolders * 2) return false;
      if (r.fam !== undefined) { const k = nmGet(famTaken, r.fam.id) || 0; if (k >= PER_FAMILY) return false; nmSet(famTaken, r.fam.id, k + 1); }
      wsAdd(taken, r.m[0]); push(chosen, r);
      return true;
    };
    for (let i = 0, n = 0; i < byGrowth.length && n < c.o.maxHolders; i++) if (byGrowth[i].growth !== null && byGrowth[i].growth > 0 && take(byGrowth[i])) n++;
    // The three biggest members of each family whose parent gained members (nine in all): what
    // each new member of a growing parent brings (per-connection outboxes of connections kept) is
    // reported, however little its members grew themselves (the report merges two or more).
    const famSeen = new NMap();
    for (let i = 0, n = 0; i < bySize.length && n < 9; i++) {
      const f = bySize[i].fam;
      if (f === undefined || f.members < 2 || !parentGained(f)) continue;
      const k = nmGet(famSeen, f.id) || 0;
      if (k >= 3) continue;
      nmSet(famSeen, f.id, k + 1);
      if (take(bySize[i])) n++;
    }
    for (let i = 0, n = 0; i < bySize.length && chosen.length < c.o.maxHolders * 2 && n < c.o.maxHolders; i++) if (take(bySize[i]) || wsHas(taken, bySize[i].m[0])) n++;
    state.reported = new WS();
    for (let i = 0; i < chosen.length; i++) wsAdd(state.reported, chosen[i].m[0]);
    // The Arrays of Buffers among them, read first: a store one of them held at an earlier
    // report and holds now is no new memory for another that views it now (a pool's free list
    // first seen short, in a burst, and its slabs array).
    const scans = new WM(), elsewhere = new WM();
    for (let i = 0; i < chosen.length; i++) {
      const r = chosen[i], o = r.m[0];
      if (r.m[4] !== K_ARRAY) continue;
      const scan = scanBacking(o);
      if (scan === null) continue;
      const had = r.growth !== null ? wmGet(state.backing, o) : undefined;
      wmSet(scans, o, [scan, had]);
      if (had !== undefined) heldSince(o, scan, had[0], elsewhere);
    }
    const out = [];
    for (let i = 0; i < chosen.length; i++) {
      const r = chosen[i], m = r.m, o = m[0], kind = m[4];
      const s = samplesOf(o, kind, m[6]);
      const shapes = [], keyShapes = [];
      let bytes = 0, counted = 0, buffers = 0;
      // A timer list's callbacks: the function the sidecar opened with the same code names their place.
      const callbacks = [];
      for (let j = 0; j < s.values.length; j++) {
        const v = s.values[j];
        if (kind === K_TIMERS) {
          const cb = dataValue(v, '_onTimeout');
          push(shapes, 'Timeout(' + describe(cb) + ')');
          let ref;
          try { const node = nmGet(c.codeNode, fnToString(cb)); if (node !== undefined) ref = nmGet(c.refOfNode, node); } catch (e) {}
          if (ref !== undefined && callbacks.indexOf(ref) < 0) push(callbacks, ref);
        } else push(shapes, describe(v));
        if (isObj(v) && isBufferLike(v)) buffers++;
        try { bytes += weigh(v); counted++; } catch (e) {}
      }
      for (let j = 0; j < s.keys.length; j++) push(keyShapes, describe(s.keys[j]));
      if (kind === K_STRING) push(shapes, 'characters');
      const perElement = counted > 0 ? bytes / counted : 0;
      const kindName = kind === K_ARRAY && buffers > 0 && buffers === s.values.length ? 'BufferArray' : KIND_NAMES[kind];
      let backing = null;
      const scanned = kindName === 'BufferArray' ? wmGet(scans, o) : undefined;
      if (scanned !== undefined) {
        const scan = scanned[0], had = scanned[1];
        const known = had !== undefined ? had[0] : new WM(), last = had !== undefined ? had[2] : 0;
        const now = backingOf(o, scan, known, last, elsewhere);
        wmSet(state.backing, o, [known, now[1], last + 1]);
        backing = [now[0], now[1], had !== undefined ? now[2] : -1, had !== undefined ? had[1] : -1, now[3], now[4]];
      }
      const p = m[1] >= 0 ? pathOf(c, m[1]) : null;
      // Every kind is probed. Probing stops once this step has spent maxStepMs: the rest are judged unmeasured.
      // Turnover from PROBE_MIN_SIZE members; a smaller collection is still probed whole, so that
      // its members' stay is known when it grows (stayersOf).
      // A copy that continues the collection last reported at its path (see continues) is
      // probed with the members sampled there: the same collection, compacted.
      let before = wmGet(state.probes, o);
      if ((before === undefined || before === null) && r.growth !== null && keyOf(r) !== null) before = nmGet(oldPaths, r.pk);
      const measured = before !== undefined && before !== null && r.growth !== null && before[5] >= PROBE_MIN_SIZE;
      const turnover = !measured ? null : r.pathTurnover !== undefined && r.pathTurnover[0] === before ? r.pathTurnover[1] : turnoverOf(o, kind, before);
      const probe = m[2] >= 2 && m[2] <= probeMaxSize(kind) && perfNow() - t0 < c.o.maxStepMs;
      const probes = probe ? takeProbes(o, kind, m[2], before !== undefined && before !== null && before[1] === 1 ? CENSUS_KEPT : CENSUS) : null;
      const stay = stayersOf(r.growth !== null ? before : undefined, probes, m[2], nowDs());
      wmSet(state.probes, o, probes);
      if (probes !== null && keyOf(r) !== null) nmSet(state.pathProbes, r.pk, probes);
      push(out, {
        id: idOf(o), kind: kindName, size: m[2], previousSize: r.prevSize, intervalS: r.dt, growthPerSecond: r.growth,
        elementShape: uniq(shapes), keyShape: uniq(keyShapes), retainedBytes: floor(perElement * m[2] + tableBytes(kind, m[2])),
        sampled: counted, via: m[7] === true ? 'stale' : m[1] >= 0 ? 'walk' : 'tracked', root: p === null ? null : p.root, steps: p === null ? [] : p.steps, callbacks,
        family: r.fam !== undefined && r.fam.members >= 2 ? familyOut(r.fam) : null,
        turnover, floors: floorsOf(r), backing, stay,
      });
    }
    // Track every reported collection, then the biggest, through WeakRefs, bounded.
    const trOf = new WM();
    for (let i = 0; i < state.tracked.length; i++) { const o = wrDeref(state.tracked[i].ref); if (o !== undefined) wmSet(trOf, o, state.tracked[i]); }
    const next = [];
    const inNext = new WS();
    const consider = (m) => {
      const o = m[0];
      if (next.length >= c.o.maxTracked || wsHas(inNext, o) || m[4] === K_STRING) return;
      wsAdd(inNext, o);
      const tr = wmGet(trOf, o);
      push(next, tr !== undefined ? tr : { id: idOf(o), ref: new WR(o), kind: m[4] });
    };
    for (let i = 0; i < chosen.length; i++) consider(chosen[i].m);
    for (let i = 0; i < bySize.length && next.length < c.o.maxTracked && bySize[i].m[2] >= c.o.minSize; i++) consider(bySize[i].m);
    state.tracked = next;
    c.out = out;
    c.measured = [];
    const ms = perfNow() - t0;
    if (ms > c.longestSliceMs) c.longestSliceMs = ms;
    return {
      ok: true, finishMs: ms, holders: out.length, visits: c.visits, nodes: c.np.length, slices: c.slices,
      longestSliceMs: c.longestSliceMs, longestStepMs: c.longestStepMs, stepsOverBudget: c.stepsOver,
      truncated: c.truncated, queuedLeft: c.queued, functionsListed: c.fns.length, functionsLeft: c.fns.length - c.fnBase,
      errors: c.errors, proxies: c.proxies, weakSkipped: c.weakSkipped, hugeSkipped: c.hugeSkipped,
      sampledCollections: c.sampledCollections, scopesAdded: c.scopesAdded, trackedRemeasured: c.trackedRemeasured, functionsNotOpened: c.notOpened,
      tracked: state.tracked.length, installId: state.installId,
    };
  };

  // Between searches, at each poll of the sidecar (its holder scheduler, HOLDER_SAMPLE): the tracked Arrays,
  // Maps and Sets are measured (one read each) and the lowest size since each one's last
  // measurement is kept (see closeInterval), and the polls it rose to a new high at. A buffer
  // emptied and refilled between two searches (a batch flushed every second) shows it here,
  // whatever its size at the searches; a cache that stopped filling early in the interval too. Bounded:
  // at most maxTracked collections, and it stops after SAMPLE_MAX_MS.
  const SAMPLE_MAX_MS = 2;
  const sample = () => {
    const t0 = perfNow();
    let n = 0;
    for (let i = 0; i < state.tracked.length; i++) {
      const tr = state.tracked[i];
      if (tr.kind !== K_ARRAY && tr.kind !== K_MAP && tr.kind !== K_SET) continue;
      const o = wrDeref(tr.ref);
      if (o === undefined) continue;
      const rec = wmGet(state.rec, o);
      if (rec === undefined) continue;
      let size;
      try { size = measureNow(o, tr.kind); } catch (e) { continue; }
      const low = wmGet(state.low, o);
      const start = low === undefined ? decSize(rec) : low;
      wmSet(state.low, o, size < start ? size : start);
      // Its rises to a new high since its last measurement, and when it last rose (see closeInterval).
      const rise = wmGet(state.rise, o);
      if (rise === undefined) wmSet(state.rise, o, size > decSize(rec) ? [size, 1, nowDs()] : [decSize(rec), 0, decDs(rec)]);
      else if (size > rise[0]) { rise[0] = size; rise[1]++; rise[2] = nowDs(); }
      n++;
      if ((n & 15) === 0 && perfNow() - t0 > SAMPLE_MAX_MS) break;
    }
    return { ok: true, sampled: n, tracked: state.tracked.length, ms: perfNow() - t0 };
  };

  const page = (offset, count) => {
    const c = state.cur;
    if (c === null || c.out === null) return { ok: false };
    touch(c);
    return { ok: true, total: c.out.length, items: slice(c.out, offset, offset + count) };
  };

  const end = () => {
    const c = state.cur;
    if (c !== null) dropSearch(c);
    return { ok: true };
  };

  state.hello = hello;
  state.begin = begin;
  state.step = step;
  state.takeFunctions = takeFunctions;
  state.addScopes = addScopes;
  state.chain = chain;
  state.finish = finish;
  state.page = page;
  state.sample = sample;
  state.end = end;
  Object.defineProperty(g, KEY, { value: state, configurable: true, enumerable: false, writable: false });
  return hello(true);
`
