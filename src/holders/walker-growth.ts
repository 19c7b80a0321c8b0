/**
 * Part of the holder walker's in-target source (how a collection's members move between two
 * searches: turnover probes, and the anchors that tell a copy at the same path from a new one).
 * Fixed text only: see src/holders/walker.ts for the rules and how the parts
 * are joined into one function body. Not valid JavaScript on its own.
 */
export const WALKER_GROWTH_SOURCE = `
  // Turnover: of members sampled across a collection (a Set, Map, Array, dictionary or timer
  // list) when it was last reported, how many have left since. A collection whose members seldom
  // leave cannot move much by churn, whatever its size (see isGrowing). Objects are held through
  // WeakRefs; primitives only when small (a fresh copy), and an Array's only when the sampled ones
  // are distinct (see takeProbes); a dictionary's members are its keys.
  // A collection of fewer than PROBE_MIN_PROBES members is probed whole or not at all, and one
  // of up to CENSUS members is probed whole (a census: its turnover is then a count, not a
  // sample, see growth.ts turnoverBound; and its members' ages tell the ones that stay, see
  // stayersOf). A flow of a hundred uploads in flight keeps its census.
  // A census goes on up to CENSUS_KEPT members once it has started: a store that keeps members
  // among others that come and go (devices that went offline, among 250 running) grows past
  // CENSUS while its stayers show.
  const PROBES = 64, CENSUS = 256, CENSUS_KEPT = 1024, PROBE_MIN_SIZE = 8, PROBE_MIN_PROBES = 16;
  // How many members of a collection of this size are probed: all of them up to the census bound.
  const probesFor = (size, bound) => size <= bound ? bound : PROBES;
  const enoughProbes = (n, size) => n >= (size < PROBE_MIN_PROBES ? size : PROBE_MIN_PROBES);
  // The largest collection probed, by kind: sampling walks a Set or a Map by iteration (~10 ns a
  // member, then has() per probe), a timer list along its links, and lists a dictionary's keys
  // (~0.3 us a key); an Array's probes are looked up by indexOf (a scan each). Each bound keeps
  // one collection's probes near a millisecond; the finish step also stops probing once it has
  // spent maxStepMs (see the report).
  const probeMaxSize = (kind) => kind === K_SET || kind === K_MAP ? 65536 : kind === K_ARRAY ? 16384 : kind === K_STRING ? 0 : 4096;
  const probeOf = (k, primitives) => {
    const t = typeof k;
    if (isObj(k)) return [true, new WR(k)];
    if (!primitives) return undefined;
    if (t === 'number' || t === 'boolean' || t === 'bigint' || k === null || k === undefined) return [false, k];
    if (t === 'string' && k.length <= 64) return [false, jsonParse(jsonStringify(k))];
    return undefined;
  };
  // The next member of a Set (its value) or of a Map (its key) from an iterator of setValues /
  // mapEntries; DONE when there is none (a member may itself be undefined).
  const DONE = {};
  const nextMember = (it, kind) => { const r = kind === K_SET ? setIterNext(it) : mapIterNext(it); return r.done ? DONE : kind === K_SET ? r.value : r.value[0]; };
  // Where a probe's member is now: -1 gone with its object (collected), 1 still in o, 0 not in o.
  // A Timeout is in a timer list while linked (Node unlinks one that fired or was cleared; a
  // setInterval is linked again, the same object, each time it is re-armed).
  // A Map member whose key cannot be probed (a long string: a normalised query, a URL) is probed
  // by its value ([2, WeakRef]), looked up among the values the Map holds now (vals).
  const probeIn = (o, kind, p, vals) => {
    const k = p[0] ? wrDeref(p[1]) : p[1];
    if (p[0] && k === undefined) return -1;
    if (p[0] === 2) return vals !== null && vals !== undefined && nmGet(vals, k) !== undefined ? 1 : 0;
    if (kind === K_TIMERS) return isObj(dataValue(k, '_idleNext')) ? 1 : 0;
    if (kind === K_OBJECT) return hasOwnProp(o, k) ? 1 : 0;
    return (kind === K_SET ? setHas(o, k) : kind === K_MAP ? mapHas(o, k) : arrIndexOf(o, k) >= 0) ? 1 : 0;
  };
  // This search's own watchdog Timeout, in a timer list while the search runs: not the app's.
  const ownWatchdog = () => state.cur !== null ? state.cur.watchdog : null;
  // Up to probesFor(length) distinct indices spread evenly over 0..length-1 (all up to the bound).
  const strided = (length, bound) => {
    const out = [], n = probesFor(length, bound);
    for (let j = 0, last = -1; j < n; j++) {
      const at = floor((j * length) / n);
      if (at !== last && at < length) { push(out, at); last = at; }
    }
    return out;
  };
  // [the probes, 1 when they are every member it held then (a census) else 0], or null.
  const taken = (out, size, all) => enoughProbes(out.length, size) ? [out, all ? 1 : 0] : null;
  // bound: CENSUS, or CENSUS_KEPT when the last probes were a census (see stayersOf).
  const takeProbes = (o, kind, size, bound) => {
    const out = [];
    const most = probesFor(size, bound), stride = size / most;
    try {
      if (kind === K_TIMERS) {
        // A timer list's Timeouts, every stride-th along the list (not this search's own watchdog).
        const own = ownWatchdog();
        let t = dataValue(o, '_idleNext'), next = 0, i = 0;
        for (; i < size && isObj(t) && t !== o && out.length < most; i++) {
          if (i >= next && t !== own) { next += stride; push(out, [true, new WR(t)]); }
          t = dataValue(t, '_idleNext');
        }
        return taken(out, size, out.length === i && (!isObj(t) || t === o));
      }
      if (kind === K_ARRAY) {
        // An Array's primitives are probed only when the sampled ones are all distinct (ids,
        // keys, names): equal values cannot be told apart, so a repeated one would look like a
        // member that stayed. (NaN is never found by indexOf, and undefined is a hole: neither
        // is probed.) Sampled over its length now: the event loop ran since it was measured.
        const length = o.length;
        const at = strided(typeof length === 'number' && length >= 0 ? length : size, bound);
        const seen = new NMap();
        let repeated = false;
        for (let j = 0; j < at.length; j++) {
          const v = o[at[j]];
          const p = v !== v || v === undefined ? undefined : probeOf(v, true);
          if (p === undefined) continue;
          if (!p[0]) { if (nmGet(seen, p[1]) !== undefined) repeated = true; else nmSet(seen, p[1], true); }
          push(out, p);
        }
        if (repeated) {
          const objects = [];
          for (let j = 0; j < out.length; j++) if (out[j][0]) push(objects, out[j]);
          return taken(objects, size, objects.length >= length);
        }
        return taken(out, size, out.length >= length);
      }
      if (kind === K_OBJECT) {
        // A dictionary's keys, every stride-th of those listed now (keys are distinct; a key
        // deleted and set again has not left).
        const keys = objectKeys(o);
        const at = strided(keys.length, bound);
        for (let j = 0; j < at.length; j++) {
          const p = probeOf(keys[at[j]], true);
          if (p !== undefined) push(out, p);
        }
        return taken(out, size, out.length >= keys.length);
      }
      // A Set's or a Map's members through its captured forEach (an iterator's result objects,
      // one a member of up to 65 536, would make the search run scavenges), stopped once they
      // are taken. One of 'bound' members or fewer now is probed whole (its size may have moved
      // since it was measured: a flow's members come and go while the search runs).
      const cur = kind === K_SET ? setSize(o) : mapSize(o);
      const whole = cur <= bound, upTo = whole ? cur : size, every = whole ? 1 : stride, cap = whole ? bound : most;
      let next = 0, i = 0;
      const each = (v, k) => {
        if (i >= upTo || out.length >= cap) throw PROBES_TAKEN;
        if (i++ < next) return;
        next += every;
        let p = probeOf(kind === K_SET ? v : k, true);
        if (p === undefined && kind === K_MAP && isObj(v)) p = [2, new WR(v)];
        if (p !== undefined) push(out, p);
      };
      try { if (kind === K_SET) setForEach(o, each); else mapForEach(o, each); } catch (e) { if (e !== PROBES_TAKEN) throw e; }
      return out.length > 0 ? [out, out.length >= (kind === K_SET ? setSize(o) : mapSize(o)) ? 1 : 0] : null;
    } catch (e) { return null; }
  };
  const PROBES_TAKEN = {};
  // Stayers (see growth.ts stayersSpan). A collection probed whole at two searches in a row has
  // its members matched from one census to the next, each carrying when it was first seen: a
  // member that left may have been present for up to (the census that found it gone - its
  // first): it left at some moment in between. Those present now for longer than every member
  // that ever left may have been have outlived every departure: in a flow of uploads or streams
  // that come and go they are the ones that stay. 'taken' gets
  // [.., when taken (ds), departures so far, the longest presence of one that left (ds), size]; the
  // result is [stayers, departures so far, that longest presence in seconds], or null (the
  // count starts over whenever a search does not take a census).
  const probeKey = (p) => p[0] ? wrDeref(p[1]) : p[1];
  const stayersOf = (before, t, size, now) => {
    if (t === null) return null;
    push(t, now, 0, 0, size);
    const ages = t[0];
    if (t[1] !== 1 || before === undefined || before === null || before[1] !== 1) {
      for (let i = 0; i < ages.length; i++) ages[i][2] = now;
      return null;
    }
    const old = new NMap();
    for (let i = 0; i < before[0].length; i++) { const k = probeKey(before[0][i]); if (k !== undefined) nmSet(old, k, before[0][i]); }
    const kept = new NMap();
    for (let i = 0; i < ages.length; i++) {
      const k = probeKey(ages[i]);
      const p = k === undefined ? undefined : nmGet(old, k);
      ages[i][2] = p !== undefined ? p[2] : now;
      if (p !== undefined) nmSet(kept, k, true);
    }
    let departures = before[3], longest = before[4];
    for (let i = 0; i < before[0].length; i++) {
      const p = before[0][i], k = probeKey(p);
      if (k !== undefined && nmGet(kept, k) !== undefined) continue;
      departures++;
      const seen = (now - p[2] + TSCALE) % TSCALE;
      if (seen > longest) longest = seen;
    }
    t[3] = departures; t[4] = longest;
    let stayers = 0;
    for (let i = 0; i < ages.length; i++) if ((now - ages[i][2] + TSCALE) % TSCALE > longest) stayers++;
    return [stayers, departures, longest / 10];
  };
  // [members of 'taken' (takeProbes) gone since, members probed, 1 for a census].
  const turnoverOf = (o, kind, taken) => {
    const probes = taken[0];
    let gone = 0, vals = null;
    try {
      for (let i = 0; i < probes.length && vals === null; i++) {
        if (probes[i][0] === 2) { vals = new NMap(); mapForEach(o, (v) => { if (isObj(v)) nmSet(vals, v, true); }); }
      }
      for (let i = 0; i < probes.length; i++) if (probeIn(o, kind, probes[i], vals) !== 1) gone++;
    } catch (e) { return null; }
    return [gone, probes.length, taken[1]];
  };

  const famLab = (k) => typeof k === 'string' ? k : typeof k === 'number' ? '' + k : typeof k === 'symbol' ? 'S' + (symDesc(k) || '') : '?';
  // A node's key, built from its parent's, memoized per node: step(parent's key, node).
  const chainKey = (c, memo, n, step) => {
    const chain = [];
    let i = n, guard = 0, base;
    while (i >= 0 && guard < 10000) { base = nmGet(memo, i); if (base !== undefined) break; push(chain, i); i = c.np[i]; guard++; }
    if (base === undefined) base = '';
    for (let j = chain.length - 1; j >= 0; j--) { base = step(base, chain[j]); nmSet(memo, chain[j], base); }
    return base;
  };
  // Identity by path: a collection replaced by a copy at the same place (a compaction by filter:
  // series.samples = series.samples.filter(...)) is new to the WeakMap of measurements, but its
  // previous size is the one measured at the same path. Only paths through named properties and
  // string or number Map keys: an array index or a Set member holds a different object each time.
  const pathKeyOf = (c, n) => chainKey(c, c.pathMemo, n, (base, id) => {
    const t = c.nt[id], k = c.nk[id];
    const unstable = t === N_INDEX || t === N_SETMEMBER || t === N_MAPKEY || t === N_PROTO || t === N_TIMER || t === N_TIMERS || t === N_IMMEDIATE ||
      (t === N_MAPVAL && typeof k !== 'string' && typeof k !== 'number');
    // A module variable is known by its script and name: the function whose scope listed it (its
    // ref, numbered in the order functions were met) may differ from one search to the next;
    // a closure variable's function is the step before it.
    const x = t === N_SCOPE ? (nmGet(c.refFile, c.nx[id]) ?? famLab(c.nx[id])) : t === N_CLOSURE ? '' : famLab(c.nx[id]);
    return base === null || unstable ? null : base + '\\u0000' + t + ':' + jsonStringify(famLab(k)) + '@' + x;
  });
  // The key of state.byPath for a collection of that kind at node n (a fresh flat string), or null.
  const byPathKey = (c, n, kind) => {
    const at = pathKeyOf(c, n);
    return at === null ? null : jsonParse(jsonStringify(at + '\\u0002' + kind));
  };

  // A collection found at a remembered path continues the one measured there only when it still
  // holds one of up to 4 of its members (an Array's first, middle and last; a Set's or a Map's
  // first four): a copy made by filtering that kept old members does, a fresh batch that
  // replaced a flushed one does not.
  const anchorsOf = (o, kind, size) => {
    const out = [];
    if (kind === K_STRING) return out; // known by its path alone (see continues)
    try {
      if (kind === K_LIST) {
        // Its first and last nodes: a list that grows at its front keeps its last, one that
        // grows at its end keeps its first.
        const last = state.cur !== null ? wmGet(state.cur.listLast, o) : undefined;
        push(out, [true, new WR(o)]);
        if (isObj(last) && last !== o) push(out, [true, new WR(last)]);
      } else if (kind === K_ARRAY) {
        const at = [0, floor(size / 2), size - 1];
        for (let j = 0; j < at.length; j++) { const p = probeOf(o[at[j]], false); if (p !== undefined) push(out, p); }
      } else {
        const it = kind === K_SET ? setValues(o) : mapEntries(o);
        for (let j = 0; j < 4; j++) {
          const k = nextMember(it, kind);
          if (k === DONE) break;
          const p = probeOf(k, true);
          if (p !== undefined) push(out, p);
        }
      }
    } catch (e) {}
    return out;
  };
  // What state.byPath remembers of the linked list at node n (see the report), or undefined.
  const listRecord = (c, n) => {
    const key = byPathKey(c, n, K_LIST);
    return key === null ? undefined : nmGet(state.byPath, key);
  };
  // The anchors of a remembered collection still alive, as a WeakSet to look nodes up in.
  const anchorSet = (rec) => {
    const want = new WS();
    for (let j = 0; j < rec[1].length; j++) { const a = wrDeref(rec[1][j][1]); if (a !== undefined) wsAdd(want, a); }
    return want;
  };
  // Whether the linked list counted from first along k holds one of the anchors remembered at
  // its path: one walk along it (10 ms at most), as the count walks it, judged at once (by the end
  // of the search a node unlinked since, as an LRU unlinks its evicted oldest, would end the walk
  // at its start). Returns the anchors when some are remembered and none was met (a count that
  // goes on beyond the walk looks for them: see visitList), else null.
  const listContinues = (c, first, k, n) => {
    const rec = listRecord(c, n);
    if (rec === undefined) return null;
    const want = anchorSet(rec);
    const met = listWalk(first, k, getProto(first), want)[3];
    wmSet(c.listCont, first, met);
    return met ? null : want;
  };
  // A chain of closures, followed by the sidecar (called through Runtime.callFunctionOn with
  // args = [op, node, ...]):
  // op 0, args [.., fn, fn, ...]: the index of the first of these links that is the chain's first
  //   link remembered at its path (an anchor), -1 when none is, -2 when nothing is remembered
  //   there; and the index of the first one already handed over in this search, or -1.
  // op 1, args [.., counted, complete, foundAt, first, sample, sample]: the chain from first,
  //   counted to its end (complete: its size) or in part; foundAt >= 0: the link the earlier first
  //   was found at (it continues the chain measured at its path; counted in part, it grew by
  //   foundAt links on the size measured then, a lower bound when that was counted in part too;
  //   not met while the earlier first link is still alive: by at least the links counted).
  //   Measured as a linked list whose elements are closure scopes.
  const chain = (op, n, args) => {
    const c = state.cur;
    if (c === null || !(n >= 0 && n < c.np.length)) return { ok: false };
    touch(c);
    const rec = listRecord(c, n);
    if (op === 0) {
      // seen: the first link counted before in this search (a ring, or a tail two chains share).
      let seen = -1;
      for (let i = 2; i < args.length && seen < 0; i++) { if (wsHas(c.chainSeen, args[i])) seen = i - 2; else if (isObj(args[i])) wsAdd(c.chainSeen, args[i]); }
      if (rec === undefined) return { ok: true, at: -2, seen };
      const want = anchorSet(rec);
      const end = seen >= 0 ? seen + 2 : args.length;
      for (let i = 2; i < end; i++) if (isObj(args[i]) && wsHas(want, args[i])) return { ok: true, at: i - 2, seen };
      return { ok: true, at: -1, seen };
    }
    const counted = args[2], complete = args[3] === 1, foundAt = args[4], first = args[5];
    if (typeof first !== 'function' || !(counted >= 1)) return { ok: false };
    const found = foundAt >= 0 && rec !== undefined;
    // Counted in part without meeting the earlier first link, which is still alive: more links
    // came since than one count follows (a fast chain, searches far apart). It grew by at least
    // the links counted (a lower bound, reported as such in the truncation).
    let beyond = false;
    if (!complete && !found && rec !== undefined) for (let j = 0; j < rec[1].length && !beyond; j++) beyond = wrDeref(rec[1][j][1]) !== undefined;
    const size = !complete && found ? decSize(rec[0]) + foundAt : beyond ? decSize(rec[0]) + counted : counted;
    const samples = [];
    // A scope handed over by the inspector is {description, object}: its variables are in object.
    for (let i = 6; i < args.length; i++) { const v = isObj(args[i]) ? dataValue(args[i], 'object') : undefined; if (isObj(v)) { push(samples, v); wsAdd(state.scopes, v); } }
    if (found || beyond) wmSet(c.listCont, first, true);
    if (beyond) trunc(c, 'closure chains grew beyond one count: growth at least the links counted');
    else if (!complete && !found) trunc(c, 'closure chains counted in part');
    push(c.measured, [first, n, size, -1, K_LIST, nowDs(), samples, false, null]);
    return { ok: true, size };
  };
  const continues = (o, kind, size, anchors) => {
    if (kind === K_ARRAY && size > 200000) return false;
    if (kind === K_STRING) return true; // the same name holds the same buffer
    // A linked list's was judged when it was counted (see listContinues).
    if (kind === K_LIST) return state.cur !== null && wmGet(state.cur.listCont, o) === true;
    try {
      for (let j = 0; j < anchors.length; j++) if (probeIn(o, kind, anchors[j]) === 1) return true;
    } catch (e) {}
    return false;
  };
  // Sibling families: collections whose paths differ only in their key steps (get(k), [i], key #,
  // member #), of one kind, counted over every measured collection. The report sums siblings into
  // one holder; summing only the reported ones, chosen for their growth, would call churn growth.
  // A family key starts with \\u0003 once its path has a key step (only those are families).
  // Sets each row's .fam; returns what a row's family is reported as (familyOut).
  const sumFamilies = (c, rows, floorsOf) => {
    const famMemo = new NMap();
    const famKeyOf = (n) => {
      const base = chainKey(c, famMemo, n, (base, id) => {
        const t = c.nt[id];
        if (!isKeyNode(c, id)) return base + '\\u0000' + t + ':' + famLab(c.nk[id]) + '@' + famLab(c.nx[id]);
        return (startsWith(base, '\\u0003') ? base : '\\u0003' + base) + '\\u0001' + t;
      });
      return startsWith(base, '\\u0003') ? base : undefined;
    };
    // The collection a family's members are held one per member of (its one key step's parent:
    // deliveries of deliveries → get(…) → .pings); -2 when the path has more key steps than one.
    const keyParentOf = (n) => {
      let p = -1;
      for (let id = n, guard = 0; id >= 0 && guard < 10000; id = c.np[id], guard++) {
        if (isKeyNode(c, id)) { if (p !== -1) return -2; p = c.np[id]; }
      }
      return p;
    };
    const families = new NMap();
    let familyCount = 0;
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i];
      const path = r.m[1] >= 0 && r.m[7] !== true ? famKeyOf(r.m[1]) : undefined;
      let f;
      if (path !== undefined) {
        const key = path + '\\u0002' + r.m[4];
        f = nmGet(families, key);
        if (f === undefined) { f = { id: ++familyCount, members: 0, size: 0, knownSize: 0, knownPrev: 0, rate: 0, dt: 0, low: 0, lastLow: 0, sampled: 0, parent: keyParentOf(r.m[1]), gone: 0, probed: 0 }; nmSet(families, key, f); }
        else if (f.parent >= 0 && keyParentOf(r.m[1]) !== f.parent) f.parent = -2;
        f.members++;
        f.size += r.m[2];
        if (r.growth !== null) {
          f.knownSize += r.m[2]; f.knownPrev += r.prevSize; f.rate += r.growth; if (r.dt > f.dt) f.dt = r.dt;
          // Floors summed as the report judges one collection's (growth.ts): a member not
          // sampled in between counts its previous size in both (no fall known, no floor growth);
          // an interval before not sampled, its previous size.
          const fl = floorsOf(r);
          if (fl !== null) f.sampled++;
          f.low += fl !== null ? fl[0] : r.prevSize;
          f.lastLow += fl !== null && fl[1] >= 0 ? fl[1] : r.prevSize;
        }
      }
      r.fam = f;
    }
    // A family's output: [id, members, size, known size, their previous sizes, growth, interval,
    // floors (-1, -1 when not sampled), its parent when measured: its id and the members the walk
    // visited (all of them unless it sampled them: c.memberVisits; -1, -1 when not measured), and
    // its members' turnover at their paths (gone, probed: see finish; -1, -1 when none)].
    const measuredAt = new NMap();
    for (let i = 0; i < rows.length; i++) if (rows[i].m[1] >= 0 && rows[i].m[7] !== true) nmSet(measuredAt, rows[i].m[1], rows[i]);
    const familyOut = (f) => {
      const out = [f.id, f.members, f.size, f.knownSize, f.knownPrev, f.rate, f.dt];
      const pr = f.parent >= 0 ? nmGet(measuredAt, f.parent) : undefined;
      push(out, f.sampled > 0 ? f.low : -1); push(out, f.sampled > 0 ? f.lastLow : -1);
      if (pr !== undefined) { const v = nmGet(c.memberVisits, f.parent); push(out, idOf(pr.m[0])); push(out, v !== undefined ? v : pr.m[2]); }
      else { push(out, -1); push(out, -1); }
      push(out, f.probed > 0 ? f.gone : -1); push(out, f.probed > 0 ? f.probed : -1);
      return out;
    };
    // Whether a family's parent gained members since it was measured (the report judges whether
    // that is growth: a family grown by its parent's new members, siblings.ts).
    const parentGained = (f) => { const pr = f.parent >= 0 ? nmGet(measuredAt, f.parent) : undefined; return pr !== undefined && pr.growth !== null && pr.growth > 0; };
    return { familyOut, parentGained };
  };
`
