/**
 * Part of the holder walker's in-target source (one search: path nodes, the function guard, and the visit of arrays, maps, sets, objects).
 * Fixed text only: see src/holders/walker.ts for the rules and how the parts
 * are joined into one function body. Not valid JavaScript on its own.
 */
export const WALKER_WALK_SOURCE = `
  // ---- one search ----
  const trunc = (c, why) => { if (nmGet(c.truncSeen, why) === undefined) { nmSet(c.truncSeen, why, true); push(c.truncated, why); } };
  const addNode = (c, parent, type, key, extra, flags) => {
    const id = c.np.length;
    if (id >= c.o.maxNodes) { trunc(c, 'path nodes'); return -1; }
    push(c.np, parent); push(c.nt, type); push(c.nk, key); push(c.nx, extra); push(c.nx2, undefined); push(c.nf, flags);
    push(c.nd, parent < 0 ? 0 : c.nd[parent] + 1 + ((flags & F_INTERNAL) !== 0 ? INTERNAL_DEPTH : 0));
    return id;
  };
  // A long string under a name: a path node and a measurement (its length), nothing held (a
  // fresh token stands for it; reading a long concatenation would flatten it).
  const recordString = (c, parent, type, key, extra, s) => {
    const id = addNode(c, parent, type, key, extra, 0);
    if (id < 0) return -1;
    if (parent < 0) nmSet(c.rootKinds, id, 'String');
    push(c.measured, [{}, id, s.length, -1, K_STRING, nowDs(), null, false, null]);
    return id;
  };
  const enqueue = (c, v, parent, type, key, extra, flags) => {
    if (wsHas(c.visited, v)) return -1;
    const id = addNode(c, parent, type, key, extra, flags);
    if (id < 0) return -1;
    if (parent < 0) nmSet(c.rootKinds, id, rootKind(v));
    wsAdd(c.visited, v);
    const d = c.nd[id];
    let b = c.buckets[d];
    if (b === undefined) { while (c.buckets.length <= d) push(c.buckets, undefined); b = c.buckets[d] = { o: [], n: [], head: 0 }; }
    push(b.o, v); push(b.n, id);
    c.queued++;
    if (d < c.minDepth) c.minDepth = d;
    return id;
  };
  // The inspector describes a function by its source (V8 calls ToString on it) and lists its own
  // properties with their values: open only functions whose description is small and cannot run
  // application code (no own or inherited toString / Symbol.toPrimitive of the application's).
  const MAX_FN_SOURCE = 262144, MAX_OWN_SOURCE = 65536, MAX_OWN_STRING = 4096, MAX_OWN_KEYS = 64;
  const srcLength = (f) => { try { return fnToString(f).length; } catch (e) { return MAX_FN_SOURCE + 1; } };
  const builtinsIntact = () => {
    try {
      if (dataValue(FP, 'toString') !== FP_TO_STRING || dataValue(ObjProto, 'toString') !== OBJ_TO_STRING) return false;
      if (dataValue(ObjProto, 'valueOf') !== OBJ_VALUE_OF) return false;
      if (getDesc(FP, TO_PRIMITIVE) !== undefined || getDesc(ObjProto, TO_PRIMITIVE) !== undefined) return false;
    } catch (e) { return false; }
    return true;
  };
  const describable = (f) => {
    let size = srcLength(f);
    if (size > MAX_FN_SOURCE) return 'large';
    let p = f;
    for (let depth = 0; p !== null && depth < 16; depth++) {
      if (T.isProxy(p)) return 'proxy';
      if (p === FP || p === ObjProto) break; // checked once per search by builtinsIntact
      let keys;
      try { keys = ownKeys(p); } catch (e) { return 'keys'; }
      if (depth === 0 && keys.length > MAX_OWN_KEYS) return 'large';
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i];
        if (k === 'toString' || k === 'valueOf' || k === TO_PRIMITIVE) return 'toString';
        if (depth > 0) continue;
        if (k === 'length' || k === 'name' || k === 'prototype' || k === 'arguments' || k === 'caller') continue;
        const d = getDesc(p, k);
        if (d === undefined) continue;
        if (!('value' in d)) { if (typeof d.get === 'function') size += srcLength(d.get); if (typeof d.set === 'function') size += srcLength(d.set); continue; }
        const v = d.value;
        if (typeof v === 'string' && v.length > MAX_OWN_STRING) return 'large';
        if (typeof v === 'function') { if (T.isProxy(v)) return 'proxy'; size += srcLength(v); }
      }
      if (depth > 0 && typeof p === 'function') size += srcLength(p); // a parent class is described too
      if (size > MAX_FN_SOURCE + MAX_OWN_SOURCE) return 'large';
      p = getProto(p);
    }
    return '';
  };
  const addFunction = (c, f, node, role, file, index) => {
    if (c.fns.length >= c.o.maxFunctions) { trunc(c, 'functions'); return; }
    if (wsHas(c.opened, f)) return;
    wsAdd(c.opened, f);
    if (!c.builtinsIntact) { trunc(c, 'functions not opened: Function.prototype.toString replaced'); return; }
    const why = describable(f);
    if (why !== '') { c.notOpened++; trunc(c, why === 'large' ? 'functions not opened: too large to describe' : 'functions not opened: custom toString or proxy'); return; }
    listToOpen(c, f, node, role, file || '', index === undefined ? -1 : index, fnName(f), srcLength(f));
  };
  // Lists o for the sidecar to open (a function's [[Scopes]], an object's private fields, a chain
  // of closures), shallowest first; size: what its description adds to a batch's reply.
  const listToOpen = (c, o, node, role, file, index, name, size) => {
    push(c.fns, o); push(c.fnMeta, jsonStringify({ node, role, file, index, name }));
    push(c.fnSize, size);
    const fd = node >= 0 ? c.nd[node] : -1;
    push(c.fnDepth, fd);
    if (fd < c.fnMinDepth) c.fnMinDepth = fd;
  };
  // A node type that is one entry of a collection (an index, a Map's key or value, a Set's member).
  const isEntryType = (t) => t === N_INDEX || t === N_MAPVAL || t === N_MAPKEY || t === N_SETMEMBER;
  const isKeyNode = (c, id) => c.np[id] >= 0 && isEntryType(c.nt[id]);
  // A collection held one per member of another, as the member or one of its properties
  // (pendingTraces → get(…) → .spans): measured however small, for its family's sums
  // (walker-growth.ts). Seven spans a trace are under minSize, and a Map of traces it never lets
  // go grows by its members' arrays.
  const FAMILY_MIN = 2;
  const heldPerMember = (c, n, kind) =>
    n >= 0 && (kind === K_ARRAY || kind === K_MAP || kind === K_SET) && (isKeyNode(c, n) || (c.np[n] >= 0 && isKeyNode(c, c.np[n])));
  const record = (c, o, n, size, kind, samples) => {
    const flags = n >= 0 ? c.nf[n] : 0;
    const prev = wmGet(state.rec, o);
    const ds = nowDs();
    const bulk = (flags & F_BULK) !== 0;
    const keep = kind === K_OBJECT ? (size >= c.o.dictMin || (!bulk && n >= 0 && c.nd[n] <= 2)) : (size >= 8 || !bulk);
    const floors = keep || prev !== undefined ? closeInterval(o, size) : null;
    if (keep || prev !== undefined) wmSet(state.rec, o, enc(size, ds));
    // Under minSize: when its size changed, when one of a family, and when in the last report
    // (a small collection that held still between two searches is still the same holder: its
    // sizes and its members' census go on; crashed jobs kept in a Map of a dozen).
    if (size >= c.o.minSize || (prev !== undefined && decSize(prev) !== size) || (size >= FAMILY_MIN && heldPerMember(c, n, kind)) || wsHas(state.reported, o)) {
      push(c.measured, [o, n, size, prev === undefined ? -1 : prev, kind, ds, samples || null, false, floors]);
    }
  };

  // A collection of more than K members is sampled at both ends: its first headOf(K) members and
  // those from tailFrom(K, size) on (K in all).
  const headOf = (K) => floor(K / 2);
  const tailFrom = (K, size) => size - (K - headOf(K));

  // skipProto: a linked list's first or last node does not walk on to its neighbours (objects of
  // its own prototype): the list is measured as one.
  const visitChildrenOf = (c, o, n, keys, flagsForChildren, isProto, skipProto) => {
    const K = c.o.sample;
    const len = keys.length;
    const error = T.isNativeError(o);
    const own = getProto(o);
    let openedOne = false;
    const one = (k) => {
      if (error && k === 'stack') return;
      if (k === '_idleNext' || k === '_idlePrev') return; // Node's timer and immediate lists: walked as lists
      let v;
      try { v = dataValue(o, k); } catch (e) { return; }
      if (typeof v === 'string') {
        if (v.length >= STRING_MIN && (flagsForChildren & F_BULK) === 0) recordString(c, n, typeof k === 'symbol' ? N_SYMBOL : N_PROP, k, 0, v);
        return;
      }
      if (!isObj(v)) return;
      const vp = protoOf(v);
      if (skipProto !== undefined && vp === skipProto) return;
      let f = flagsForChildren | (vp === own ? F_LINK : 0);
      if (typeof v === 'function' && isProto) { if (openedOne) f |= F_NO_OPEN; else openedOne = true; }
      if (typeof k === 'symbol') enqueue(c, v, n, N_SYMBOL, k, 0, f);
      else enqueue(c, v, n, N_PROP, k, 0, f);
    };
    if (len <= K) { for (let i = 0; i < len; i++) one(keys[i]); return; }
    c.sampledCollections++;
    const h = headOf(K), from = tailFrom(K, len);
    for (let i = 0; i < h; i++) one(keys[i]);
    for (let i = from; i < len; i++) one(keys[i]);
  };

  const MAX_CHAINS = 8;
  const visitFunction = (c, f, n) => {
    const flags = c.nf[n];
    let src = '';
    try { src = fnToString(f); } catch (e) {}
    const name = fnName(f);
    const native = endsWith(src, '{ [native code] }');
    const bound = native && startsWith(name, 'bound ');
    if ((!native || bound) && (flags & F_NO_OPEN) === 0) {
      const key = bound ? 'bound:' + name : src;
      if (!bound) nmSet(c.nodeCode, n, src);
      // A closure variable of a function holding a function of the same code (each request's
      // context closing over the previous one): a chain of closures, which only the inspector can
      // follow (through [[Scopes]]); the sidecar counts it link by link.
      if (!bound && c.nt[n] === N_CLOSURE && c.np[n] >= 0 && nmGet(c.nodeCode, c.np[n]) === src) {
        if (c.chains < MAX_CHAINS && !wsHas(c.opened, f) && c.fns.length < c.o.maxFunctions) {
          c.chains++;
          wsAdd(c.opened, f);
          listToOpen(c, f, n, ROLE_CHAIN, '', -1, copyStr(String(c.nk[n]), 200), srcLength(f));
        }
        return;
      }
      const count = nmGet(c.codeCount, key) || 0;
      if (count < c.o.perCode) { nmSet(c.codeCount, key, count + 1); if (count === 0) nmSet(c.codeNode, key, n); addFunction(c, f, n, ROLE_PLAIN, ''); }
    }
    if (native) return;
    let keys;
    try { keys = ownKeys(f); } catch (e) { return; }
    const isClass = startsWith(src, 'class');
    const kept = [];
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      if (k === 'length' || k === 'name' || k === 'arguments' || k === 'caller') continue;
      if (k === 'prototype' && !isClass) continue; // reading it would create one
      push(kept, k);
    }
    visitChildrenOf(c, f, n, kept, flags & F_BULK, false);
  };

  const visitArray = (c, a, n) => {
    const len = a.length;
    record(c, a, n, len, K_ARRAY, null);
    const K = c.o.sample;
    const cf = (c.nf[n] & F_BULK) | (len > c.o.bulkMin ? F_BULK : 0);
    const one = (i) => { const v = a[i]; if (isObj(v)) enqueue(c, v, n, N_INDEX, i, 0, cf); };
    if (len <= K) { for (let i = 0; i < len; i++) one(i); return; }
    c.sampledCollections++;
    nmSet(c.memberVisits, n, K);
    const h = headOf(K), from = tailFrom(K, len);
    for (let i = 0; i < h; i++) one(i);
    for (let i = from; i < len; i++) one(i);
  };

  // A Map's or Set's members sampled like an Array's: its first half and its last half of
  // c.o.sample, the members it has held longest and those it took in last (a leak inserted after
  // the rest, users of a tenant that came later). The tail is reached by its forEach (~2-10 ns a
  // member, nothing allocated: an iterator's results would make the walk run scavenges), at most
  // TAIL_SKIP_MS a collection, else its head only. each(value, key, index). A sampled
  // collection's members visited are counted (c.memberVisits: what a family of collections held
  // one per member is scaled by, walker-run.ts).
  const TAIL_SKIP_MS = 4, STOP = {};
  const visitMembers = (c, forEach, coll, n, size, each) => {
    const K = c.o.sample;
    const h = size <= K ? K : headOf(K), from = size <= K ? size : tailFrom(K, size);
    let i = 0, seen = 0;
    const t0 = perfNow();
    try {
      forEach(coll, (v, k) => {
        if (i < h || i >= from) { seen++; each(v, k, i); }
        else if ((i & 1023) === 0 && perfNow() - t0 > TAIL_SKIP_MS) { trunc(c, 'maps and sets sampled at their head only (too large to reach the tail)'); throw STOP; }
        i++;
      });
    } catch (e) { if (e !== STOP) throw e; }
    if (size > K) { c.sampledCollections++; nmSet(c.memberVisits, n, seen); }
  };

  const visitMap = (c, m, n) => {
    const size = mapSize(m);
    record(c, m, n, size, K_MAP, null);
    const cf = (c.nf[n] & F_BULK) | (size > c.o.bulkMin ? F_BULK : 0);
    visitMembers(c, mapForEach, m, n, size, (v, key, i) => {
      if (isObj(v)) enqueue(c, v, n, N_MAPVAL, key, i, cf);
      if (isObj(key)) enqueue(c, key, n, N_MAPKEY, i, 0, cf);
    });
  };

  const visitSet = (c, s, n) => {
    const size = setSize(s);
    record(c, s, n, size, K_SET, null);
    const cf = (c.nf[n] & F_BULK) | (size > c.o.bulkMin ? F_BULK : 0);
    visitMembers(c, setForEach, s, n, size, (v, _, i) => { if (isObj(v)) enqueue(c, v, n, N_SETMEMBER, i, 0, cf); });
  };

  // Listing the keys of an object is one step that cannot be sliced (~0.3 us a key): an object
  // whose keys took longer than maxStepMs is not listed again; it is reported as not re-measured.
  const listKeys = (c, o, n, plain) => {
    const h = wmGet(state.huge, o);
    if (h !== undefined && h > c.o.maxStepMs) {
      c.hugeSkipped++;
      const prev = wmGet(state.rec, o);
      if (prev !== undefined) push(c.measured, [o, n, decSize(prev), -1, K_OBJECT, decDs(prev), null, true]);
      return null;
    }
    const t0 = perfNow();
    const keys = plain ? objectKeys(o) : ownKeys(o);
    const ms = perfNow() - t0;
    if (ms > 2) wmSet(state.huge, o, ms);
    return keys;
  };

  // The key o holds the next node of a linked list under (an object of o's prototype that holds
  // another under the same key), or undefined. Node's timer lists are walked as timer lists.
  const linkKeyOf = (o, keys, proto) => {
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      if (k === '_idleNext' || k === '_idlePrev') continue;
      const v = dataValue(o, k);
      if (!isObj(v) || v === o || typeof v === 'function' || protoOf(v) !== proto) continue;
      const w = dataValue(v, k);
      if (isObj(w) && w !== o && w !== v && protoOf(w) === proto) return k;
    }
    return undefined;
  };
  // A linked list met at a node the walk reached by name (not as a collection's element, whose
  // collection is the holder): recorded once, from that node to its end, and the end remembered
  // so that a doubly linked list met again at its other end is not counted twice. Returns 1 when
  // o begins such a list, 2 when o is a node inside one met from a neighbour (neither counted nor
  // walked on along the list: it is counted where it begins), 0 otherwise.
  const visitList = (c, o, n, keys, proto) => {
    if (wsHas(c.listEnds, o)) return 2;
    const t = c.nt[n];
    // (An error's stack is formatted when its descriptor is read: errors are never lists.)
    if (isEntryType(t) || t === N_PROTO || t === N_TIMER || keys.length > 64 || T.isNativeError(o)) return 0;
    let k;
    try { k = linkKeyOf(o, keys, proto); } catch (e) { return 0; }
    if (k === undefined) return 0;
    // Reached from a neighbour (an object of its prototype): inside a list when it goes on along
    // the key it was reached by (an LRU's Map value's .next, whose .next leads on), or when its
    // neighbour along the list links back to it by that key (the other end of a doubly linked
    // list, reached node by node) — not where a list begins (a queue's .head).
    if ((c.nf[n] & F_LINK) !== 0) {
      const via = c.nk[n];
      if (via === k) return 2;
      if (typeof via === 'string' || typeof via === 'symbol') {
        const on = dataValue(o, via);
        if (isObj(on) && protoOf(on) === proto) return 2;
        const back = dataValue(o, k);
        if (isObj(back) && protoOf(back) === proto && dataValue(back, via) === o) return 2;
      }
    }
    // A doubly linked list met in its middle (a head read before the program put nodes in front
    // of it, between two steps of the walk; a cursor): o has a neighbour along the key its next
    // node links back by, too. It is counted whole, from its end nearer o (a stale head's
    // current head), back along the other key.
    let first = o;
    try {
      const next = dataValue(o, k);
      for (let i = 0; i < keys.length; i++) {
        const b = keys[i];
        if (b === k || dataValue(next, b) !== o) continue;
        const on = dataValue(o, b);
        if (isObj(on) && on !== o && protoOf(on) === proto) {
          const alongK = listWalk(o, k, proto), alongB = listWalk(o, b, proto);
          if (alongK[2] && alongB[2]) {
            if (alongK[0] <= alongB[0]) { first = alongK[1]; k = b; } else first = alongB[1];
          }
        }
        break;
      }
    } catch (e) {}
    const walked = listWalk(first, k, proto);
    if (walked[0] < LIST_MIN) return 0;
    wmSet(state.links, first, k);
    wsAdd(c.listEnds, walked[1]);
    if (first !== o) wsAdd(c.listEnds, first);
    const p = walked[4];
    p.node = n;
    if (walked[2]) {
      listContinues(c, first, k, n);
      listCounted(c, p);
    } else if (c.listMs < c.o.maxListMs) {
      // Counted on in the next slices (countLists). Its continuity walk (listContinues) stops
      // after 10 ms too: the anchors beyond it are looked for as the count goes on.
      p.want = listContinues(c, first, k, n);
      push(c.lists, p);
    } else listInPart(c, p);
    return 1;
  };
  const listCounted = (c, p) => {
    wmSet(c.listLast, p.first, p.last);
    wsAdd(c.listEnds, p.last);
    if (p.met) wmSet(c.listCont, p.first, true);
    record(c, p.first, p.node, p.n, K_LIST, null);
  };
  // Counted in part: reported at that size, not compared (its growth is not judged).
  const listInPart = (c, p) => {
    trunc(c, 'linked lists counted in part');
    push(c.measured, [p.first, p.node, p.n, -1, K_LIST, nowDs(), null, true]);
  };
  // Lists too long to count in one step, counted on at the start of each slice until 'deadline',
  // maxListMs in all a search (then, or when a list changed where its count stopped, in part).
  const countLists = (c, deadline) => {
    while (c.lists.length > 0) {
      const p = c.lists[0], t0 = perfNow();
      const done = listResume(p, MathMin(deadline, t0 + c.o.maxListMs - c.listMs));
      c.listMs += perfNow() - t0;
      if (done === 0 && c.listMs < c.o.maxListMs) return;
      c.lists = slice(c.lists, 1);
      if (done === 1) listCounted(c, p); else listInPart(c, p);
    }
  };

  // Private fields (#name) are invisible to JavaScript: the inspector lists them. An instance of a
  // class whose source (or a parent class's) declares one is handed to the sidecar like a
  // function to open, with up to 64 own keys and no long string among them (the inspector's
  // reply carries them too; a private field's own string it carries whole, unseen), up to
  // PRIVATE_PER_CLASS instances of a class a search, the shallowest first.
  const PRIVATE_PER_CLASS = 8, PRIVATE_NAME = /#[A-Za-z_$]/;
  const declaresPrivate = (proto) => {
    const known = wmGet(state.privateClass, proto);
    if (known !== undefined) return known;
    let found = false;
    try {
      for (let p = proto, depth = 0; p !== null && p !== ObjProto && depth < 8 && !found; p = getProto(p), depth++) {
        if (T.isProxy(p)) break;
        const ctor = dataValue(p, 'constructor');
        if (typeof ctor !== 'function' || T.isProxy(ctor)) continue;
        const src = fnToString(ctor);
        found = startsWith(src, 'class') && reTest(PRIVATE_NAME, src);
      }
    } catch (e) {}
    wmSet(state.privateClass, proto, found);
    return found;
  };
  const addPrivate = (c, o, n, proto, keys) => {
    if ((c.nf[n] & F_NO_OPEN) !== 0 || keys.length > 64 || !declaresPrivate(proto)) return;
    const count = wmGet(c.privateCount, proto) || 0;
    if (count >= PRIVATE_PER_CLASS) return;
    // The inspector's reply carries every own string whole: not one of 64 KiB or more.
    for (let i = 0; i < keys.length; i++) {
      let v;
      try { v = dataValue(o, keys[i]); } catch (e) { return; }
      if (typeof v === 'string' && v.length >= STRING_MIN) { trunc(c, 'private fields not read: a long string beside them'); return; }
    }
    if (c.fns.length >= c.o.maxFunctions) { trunc(c, 'functions'); return; }
    wmSet(c.privateCount, proto, count + 1);
    listToOpen(c, o, n, ROLE_PRIVATE, '', -1, '', 64);
  };

  const visitObject = (c, o, n) => {
    const flags = c.nf[n];
    const proto = getProto(o);
    const plain = proto === ObjProto || proto === null;
    let keys;
    if (plain) {
      keys = listKeys(c, o, n, true);
      if (keys === null) return;
      if (keys.length <= 64) {
        const syms = Object.getOwnPropertySymbols(o);
        if (syms.length > 0) { keys = slice(keys, 0); for (let i = 0; i < syms.length; i++) push(keys, syms[i]); }
      }
      if (visitList(c, o, n, keys, proto) !== 0) {
        visitChildrenOf(c, o, n, keys, flags & F_BULK, false, proto);
        return;
      }
      const samples = [];
      if (keys.length > 0) {
        const idx = [0, floor(keys.length / 2), keys.length - 1];
        for (let i = 0; i < 3; i++) { try { push(samples, dataValue(o, keys[idx[i]])); } catch (e) {} }
      }
      record(c, o, n, keys.length, K_OBJECT, samples);
    } else {
      keys = listKeys(c, o, n, false);
      if (keys === null) return;
      if (proto !== null && isObj(proto) && !wsHas(builtinProtos, proto) && !T.isProxy(proto)) {
        enqueue(c, proto, n, N_PROTO, 0, 0, flags & F_BULK);
        addPrivate(c, o, n, proto, keys);
      }
    }
    const listed = !plain && visitList(c, o, n, keys, proto) !== 0;
    const cf = (flags & F_BULK) | (plain && keys.length > c.o.bulkMin ? F_BULK : 0) |
      ((flags & F_NO_OPEN_CHILDREN) !== 0 ? F_NO_OPEN : 0) | (!plain && wsHas(internalProtos, proto) ? F_INTERNAL : 0);
    visitChildrenOf(c, o, n, keys, cf, c.nt[n] === N_PROTO, listed ? proto : undefined);
  };

  const isWeakRefLike = (o) => { const p = getProto(o); return p === WRProto || (FRProto !== null && p === FRProto); };

  const visit = (c, o, n) => {
    if (T.isProxy(o)) { c.proxies++; return; }
    if (typeof o === 'function') { visitFunction(c, o, n); return; }
    if (isArray(o)) { visitArray(c, o, n); return; }
    if (T.isMap(o)) { visitMap(c, o, n); return; }
    if (T.isSet(o)) { visitSet(c, o, n); return; }
    if (T.isWeakMap(o) || T.isWeakSet(o)) { c.weakSkipped++; return; }
    if (isView(o) || T.isAnyArrayBuffer(o)) return;
    if (T.isPromise(o) || T.isDate(o) || T.isRegExp(o) || T.isBoxedPrimitive(o) || T.isExternal(o) ||
      T.isMapIterator(o) || T.isSetIterator(o) || T.isGeneratorObject(o) || isWeakRefLike(o)) return;
    visitObject(c, o, n);
  };

`
