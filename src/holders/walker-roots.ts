/**
 * Part of the holder walker's in-target source (the roots (globals, process, handles, exports, timers, module scopes via [[Scopes]])).
 * Fixed text only: see src/holders/walker.ts for the rules and how the parts
 * are joined into one function body. Not valid JavaScript on its own.
 */
export const WALKER_ROOTS_SOURCE = `
  // ---- roots ----
  const rootGlobals = (c) => {
    let keys;
    try { keys = ownKeys(g); } catch (e) { return; }
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      if (typeof k === 'string' && nmGet(BUILTIN_GLOBALS, k) !== undefined) continue;
      if (k === KEY || k === AGENT || typeof k === 'symbol') continue;
      let v;
      try { v = dataValue(g, k); } catch (e) { continue; }
      if (isObj(v)) enqueue(c, v, -1, N_GLOBAL, k, 0, 0);
    }
  };
  const rootProcess = (c) => {
    let keys;
    try { keys = ownKeys(process); } catch (e) { return; }
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      if (typeof k !== 'string' || (k !== '_events' && nmGet(BUILTIN_PROCESS, k) !== undefined)) continue;
      let v;
      try { v = dataValue(process, k); } catch (e) { continue; }
      if (isObj(v)) enqueue(c, v, -1, N_PROCESS, k, 0, 0);
    }
  };
  const rootHandles = (c) => {
    let hs = [];
    try { if (typeof process._getActiveHandles === 'function') hs = process._getActiveHandles(); } catch (e) {}
    for (let i = 0; i < hs.length && i < 500; i++) {
      const h = hs[i];
      try { if (isObj(h) && dataValue(h, '_isStdio') === true) continue; } catch (e) { continue; }
      if (isObj(h)) enqueue(c, h, -1, N_HANDLE, ctorName(h) || 'Object', i, 0);
    }
  };
  const requireCache = () => {
    try { if (moduleModule && isObj(moduleModule._cache)) return moduleModule._cache; } catch (e) {}
    try { const m = process.mainModule; if (m && m.constructor && isObj(m.constructor._cache)) return m.constructor._cache; } catch (e) {}
    return null;
  };
  const exportOpener = (exp) => {
    if (typeof exp === 'function') return T.isProxy(exp) ? null : exp;
    if (!isObj(exp) || T.isProxy(exp)) return null;
    let keys;
    try { keys = objectKeys(exp); } catch (e) { return null; }
    for (let i = 0; i < keys.length && i < 200; i++) {
      const v = dataValue(exp, keys[i]);
      if (typeof v === 'function' && !T.isProxy(v)) return v;
    }
    const p = getProto(exp);
    if (p !== null && isObj(p) && !wsHas(builtinProtos, p) && !T.isProxy(p)) {
      const pk = ownKeys(p);
      for (let i = 0; i < pk.length && i < 200; i++) {
        const v = dataValue(p, pk[i]);
        if (typeof v === 'function' && !T.isProxy(v)) return v;
      }
    }
    return null;
  };
  const mainFile = () => {
    try { const m = process.mainModule; const f = isObj(m) ? dataValue(m, 'filename') : undefined; if (typeof f === 'string') return copyStr(f, 4000); } catch (e) {}
    return '';
  };
  // Position of the main module in require.cache (modules before it were preloaded, after it loaded by it).
  const mainIndex = () => {
    const f = mainFile();
    const cache = requireCache();
    if (f === '' || cache === null) return -1;
    try { const files = objectKeys(cache); for (let i = 0; i < files.length && i < 100000; i++) if (files[i] === f) return i; } catch (e) {}
    return -1;
  };
  const rootExports = (c) => {
    const cache = requireCache();
    if (cache === null) return;
    let files;
    try { files = objectKeys(cache); } catch (e) { return; }
    if (files.length > c.o.maxModules) trunc(c, 'modules');
    for (let i = 0; i < files.length && i < c.o.maxModules; i++) {
      const file = files[i];
      let exp;
      try { const m = dataValue(cache, file); exp = isObj(m) ? dataValue(m, 'exports') : undefined; } catch (e) { continue; }
      if (!isObj(exp) || T.isProxy(exp)) continue;
      const opener = exportOpener(exp);
      const node = enqueue(c, exp, -1, N_EXPORT, file, 0, F_NO_OPEN_CHILDREN | (typeof exp === 'function' ? F_NO_OPEN : 0));
      if (opener !== null) addFunction(c, opener, node, ROLE_EXPORT, file, i);
    }
  };
  const walkTimerList = (c, list, parent, type, key) => {
    let t = list._idleNext, count = 0;
    while (isObj(t) && t !== list && count < c.o.maxTimers) {
      enqueue(c, t, parent, type, key, dataValue(t, '_repeat') === null || dataValue(t, '_repeat') === undefined ? 0 : 1, 0);
      t = t._idleNext;
      count++;
    }
    if (isObj(t) && t !== list) trunc(c, 'timers');
  };
  const rootTimers = (c, scope) => {
    const lists = dataValue(scope, 'timerListMap');
    if (isObj(lists)) {
      const node = addNode(c, -1, N_TIMERS, 'timers', 0, 0);
      if (node >= 0) {
        const ks = objectKeys(lists);
        for (let i = 0; i < ks.length && i < 1000; i++) {
          const l = dataValue(lists, ks[i]);
          if (!isObj(l)) continue;
          // The list itself is measured as a collection: its length is how many timers of this duration are live.
          // Labelled by its oldest timer (a leaked interval is old; the newest may be this search's own watchdog).
          const oldest = l._idlePrev;
          const repeat = isObj(oldest) && oldest !== l && dataValue(oldest, '_repeat') !== null && dataValue(oldest, '_repeat') !== undefined ? 1 : 0;
          const ln = addNode(c, node, N_TIMER, Number(ks[i]), repeat, 0);
          // Visited: measured here once (not again as a tracked collection, nor reached as an object).
          if (ln >= 0 && !wsHas(c.visited, l)) { wsAdd(c.visited, l); record(c, l, ln, timerCount(l), K_TIMERS, null); }
          walkTimerList(c, l, node, N_TIMER, Number(ks[i]));
        }
      }
    }
    const imm = dataValue(scope, 'immediateQueue');
    if (isObj(imm)) {
      const node = addNode(c, -1, N_IMMEDIATE, 'immediates', 0, 0);
      let t = imm.head, count = 0;
      while (node >= 0 && isObj(t) && count < c.o.maxTimers) { enqueue(c, t, node, N_TIMER, -1, 2, 0); t = t._idleNext; count++; }
    }
  };

  // The file of a CommonJS module scope, when the module's own names are in it (they are when a
  // function of the module uses them): __filename, module, or exports (found in require.cache).
  const fileOfScope = (o) => {
    try {
      const f = dataValue(o, '__filename');
      if (typeof f === 'string') return copyStr(f, 4000);
      const mod = dataValue(o, 'module');
      if (isObj(mod) && !T.isProxy(mod)) { const fn = dataValue(mod, 'filename'); if (typeof fn === 'string') return copyStr(fn, 4000); }
      const exp = dataValue(o, 'exports');
      const cache = isObj(exp) ? requireCache() : null;
      if (cache !== null) {
        const files = objectKeys(cache);
        for (let i = 0; i < files.length && i < 5000; i++) {
          const m = dataValue(cache, files[i]);
          if (isObj(m) && dataValue(m, 'exports') === exp) return copyStr(files[i], 4000);
        }
      }
    } catch (e) {}
    return '';
  };

  // Called (through Runtime.callFunctionOn) with the scope lists of the functions just opened.
  // metas[i]: { ref, script (its script id), node, fields (role private: [name, argument index]), role, skipModule, skipAll, scopes, boundTarget, boundThis, boundArgs } (argument indexes or -1).
  const addScopes = (metas, args) => {
    const c = state.cur;
    if (c === null) return { ok: false };
    touch(c);
    const internal = [], modules = [], files = [];
    for (let i = 0; i < metas.length; i++) {
      const m = metas[i];
      const node = m.node >= 0 && m.node < c.np.length ? m.node : -1;
      if (m.role === ROLE_PRIVATE) {
        // An object's private fields: fields[j] = [name ('#...'), argument index].
        for (let j = 0; node >= 0 && j < m.fields.length; j++) {
          const v = args[m.fields[j][1]];
          if (isObj(v)) enqueue(c, v, node, N_PRIVATE, copyStr(String(m.fields[j][0]), 200), 0, c.nf[node] & F_BULK);
        }
        continue;
      }
      if (node >= 0) nmSet(c.refOfNode, node, m.ref);
      if (m.boundTarget >= 0 && isObj(args[m.boundTarget])) enqueue(c, args[m.boundTarget], node, N_BOUND_TARGET, 0, 0, 0);
      if (m.boundThis >= 0 && isObj(args[m.boundThis])) enqueue(c, args[m.boundThis], node, N_BOUND_THIS, 0, 0, 0);
      if (m.boundArgs >= 0 && isObj(args[m.boundArgs])) enqueue(c, args[m.boundArgs], node, N_BOUND_ARGS, 0, 0, 0);
      if (m.scopes < 0) continue;
      const list = args[m.scopes];
      if (!isObj(list)) continue;
      const n = list.length;
      let outer = -1;
      for (let j = 0; j < n; j++) {
        const d = list[j] && list[j].description;
        if (typeof d === 'string' && startsWith(d, 'Closure')) outer = j;
      }
      // The module scope first: a function of one of Node's own modules has its inner closures skipped too.
      let skipInner = m.skipAll === 1;
      const order = [];
      if (outer >= 0) push(order, outer);
      for (let j = 0; j < n; j++) if (j !== outer) push(order, j);
      for (let oi = 0; oi < order.length; oi++) {
        const j = order[oi];
        const s = list[j];
        if (!isObj(s)) continue;
        const d = typeof s.description === 'string' ? s.description : '';
        const o = s.object;
        if (d === 'Global' || !isObj(o)) continue;
        const isModule = d === 'Module' || d === 'Script' || (d === 'Closure' && j === outer);
        if (m.role === ROLE_TIMERS) { if (isModule) rootTimers(c, o); continue; }
        if (!isModule && skipInner) continue;
        if (isModule && m.skipModule) continue;
        let names;
        try { names = ownKeys(o); } catch (e) { continue; }
        if (isModule) {
          let prim = 0;
          // Node's module wrapper passes process in; an application module rarely has its own
          // (counted only with other signs: a small module of the app may import it).
          let proc = 0;
          for (let k = 0; k < names.length; k++) {
            const nm = names[k];
            if (nm === 'primordials' || nm === 'internalBinding') { prim += 3; continue; }
            if (nm === 'process') { if (dataValue(o, nm) === process) proc = 2; continue; }
            if (nm === 'require') { const r = dataValue(o, nm); if (typeof r === 'function' && fnName(r) === 'requireBuiltin') prim += 3; continue; }
            if (typeof nm === 'string' && (reTest(PROTO_METHOD, nm) || reTest(PRIMORDIAL, nm)) && typeof dataValue(o, nm) === 'function') prim++;
          }
          if (prim + proc >= 3 || (prim >= 2 && names.length < 12)) { push(internal, m.ref); skipInner = true; continue; }
          push(modules, m.ref);
          const file = fileOfScope(o);
          if (file !== '') push(files, [m.ref, file]);
          // Its identity across searches (the ref is numbered anew each search): its script.
          if (typeof m.script === 'string' && m.script !== '') nmSet(c.refFile, m.ref, 's' + m.script);
          else if (file !== '') nmSet(c.refFile, m.ref, 'f' + file);
        }
        const label = copyStr(d, 80);
        for (let k = 0; k < names.length; k++) {
          const nm = names[k];
          if (typeof nm !== 'string') continue;
          // The CommonJS wrapper's own names: Node's loader objects (exports are roots already).
          if (isModule && (nm === 'require' || nm === 'module' || nm === 'exports' || nm === '__filename' || nm === '__dirname')) continue;
          let v;
          try { v = dataValue(o, nm); } catch (e) { continue; }
          if (typeof v === 'string') {
            // A module's or a closure's long string, once a search (a module's scope is listed for
            // each of its functions opened: once a module, known as in paths by its script or file).
            const seen = (isModule ? 'm' + (nmGet(c.refFile, m.ref) ?? m.ref) : 'c' + node + ':' + m.ref) + '\\u0000' + nm;
            if (v.length >= STRING_MIN && nmGet(c.stringSeen, seen) === undefined) {
              nmSet(c.stringSeen, seen, true);
              const sid = isModule ? recordString(c, -1, N_SCOPE, nm, m.ref, v) : recordString(c, node, N_CLOSURE, nm, m.ref, v);
              if (sid >= 0) c.nx2[sid] = label;
            }
            continue;
          }
          if (!isObj(v)) continue;
          const id = isModule ? enqueue(c, v, -1, N_SCOPE, nm, m.ref, 0) : enqueue(c, v, node, N_CLOSURE, nm, m.ref, 0);
          if (id >= 0) c.nx2[id] = label;
        }
        c.scopesAdded++;
      }
    }
    return { ok: true, internal, modules, files, queued: c.queued, pendingFunctions: c.fns.length - c.fnBase };
  };

`
