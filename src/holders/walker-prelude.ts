/**
 * Part of the holder walker's in-target source (intrinsics captured once, the lists of what Node defines, value description and the hello).
 * Fixed text only: see src/holders/walker.ts for the rules and how the parts
 * are joined into one function body. Not valid JavaScript on its own.
 */
import { AGENT_KEY } from '../collectors/agent.js'
import { BUILTIN_LOADER_SOURCE } from '../inspector/snippets.js'
import { WALKER_KEY, FN_ROLE } from './walker-keys.js'

export const WALKER_PRELUDE_SOURCE = `
  const KEY = Symbol.for(${JSON.stringify(WALKER_KEY)});
  const g = globalThis;
  const have = g[KEY];
  if (have !== undefined && have !== null && have.version === __LW_WALKER_VERSION__) return have.hello(false);
  ${BUILTIN_LOADER_SOURCE}
  const util = builtin('util');
  const T = util && util.types;
  if (!T || typeof T.isProxy !== 'function' || typeof WeakRef !== 'function') {
    return { ok: false, reason: 'the walker needs util.types (process.getBuiltinModule, Node >= 20.16, or a CommonJS main module) and WeakRef' };
  }
  const timersModule = builtin('timers');
  const perfHooks = builtin('perf_hooks');
  const eventsModule = builtin('events');
  const moduleModule = builtin('module');
  // Intrinsics, captured once: a target that patches prototypes later does not reach into the walk.
  const R = Reflect;
  const FP = Function.prototype;
  const un = (f) => FP.call.bind(f);
  const ownKeys = R.ownKeys, getDesc = R.getOwnPropertyDescriptor, getProto = R.getPrototypeOf;
  const objectKeys = Object.keys, isArray = Array.isArray, isView = ArrayBuffer.isView;
  const ObjProto = Object.prototype;
  const fnToString = un(FP.toString);
  const FP_TO_STRING = FP.toString, OBJ_TO_STRING = ObjProto.toString, OBJ_VALUE_OF = ObjProto.valueOf;
  const TO_PRIMITIVE = Symbol.toPrimitive;
  const mapSize = un(getDesc(Map.prototype, 'size').get), setSize = un(getDesc(Set.prototype, 'size').get);
  const mapEntries = un(Map.prototype.entries), setValues = un(Set.prototype.values);
  const mapIterNext = un(getProto(new Map().entries()).next), setIterNext = un(getProto(new Set().values()).next);
  const mapForEach = un(Map.prototype.forEach), setForEach = un(Set.prototype.forEach);
  const mapHas = un(Map.prototype.has), setHas = un(Set.prototype.has), arrIndexOf = un(Array.prototype.indexOf);
  const hasOwnProp = un(ObjProto.hasOwnProperty);
  const TAProto = getProto(Uint8Array.prototype);
  const taByteLength = un(getDesc(TAProto, 'byteLength').get);
  const abByteLength = un(getDesc(ArrayBuffer.prototype, 'byteLength').get);
  const sabByteLength = typeof SharedArrayBuffer === 'function' ? un(getDesc(SharedArrayBuffer.prototype, 'byteLength').get) : null;
  const dvByteLength = un(getDesc(DataView.prototype, 'byteLength').get);
  const taBuffer = un(getDesc(TAProto, 'buffer').get), dvBuffer = un(getDesc(DataView.prototype, 'buffer').get);
  const WM = WeakMap, WS = WeakSet, WR = WeakRef, NMap = Map;
  const wmGet = un(WM.prototype.get), wmSet = un(WM.prototype.set), wmHas = un(WM.prototype.has), wmDel = un(WM.prototype.delete);
  const wsAdd = un(WS.prototype.add), wsHas = un(WS.prototype.has);
  const wrDeref = un(WR.prototype.deref);
  const nmGet = un(NMap.prototype.get), nmSet = un(NMap.prototype.set);
  const push = un(Array.prototype.push), slice = un(Array.prototype.slice), sortArr = un(Array.prototype.sort);
  const strSlice = un(String.prototype.slice), strReplace = un(String.prototype.replace), startsWith = un(String.prototype.startsWith);
  const endsWith = un(String.prototype.endsWith), reTest = un(RegExp.prototype.test);
  const symDesc = un(getDesc(Symbol.prototype, 'description').get);
  const jsonStringify = JSON.stringify, jsonParse = JSON.parse, floor = Math.floor, MathMax = Math.max, MathMin = Math.min, isInteger = Number.isInteger;
  const dateNow = Date.now;
  const perfNow = perfHooks && perfHooks.performance ? perfHooks.performance.now.bind(perfHooks.performance) : Date.now;
  const setTimer = timersModule ? timersModule.setTimeout : setTimeout;
  const clearTimer = timersModule ? timersModule.clearTimeout : clearTimeout;
  const WRProto = WR.prototype;
  const FRProto = typeof FinalizationRegistry === 'function' ? FinalizationRegistry.prototype : null;
  const AGENT = Symbol.for(${JSON.stringify(AGENT_KEY)});

  // Prototypes of the language and of Node's core: never walked (their methods are not the
  // application's, and their module scopes are Node's own).
  const builtinProtos = new WS();
  for (const C of [Object, Function, Array, Map, Set, WeakMap, WeakSet, Promise, Error, Date, RegExp, String, Number,
    Boolean, Symbol, ArrayBuffer, DataView, WeakRef, BigInt]) {
    try { wsAdd(builtinProtos, C.prototype); } catch (e) {}
  }
  try { wsAdd(builtinProtos, TAProto); } catch (e) {}
  try { if (eventsModule) wsAdd(builtinProtos, eventsModule.prototype); } catch (e) {}
  try { const B = builtin('buffer'); if (B) wsAdd(builtinProtos, B.Buffer.prototype); } catch (e) {}

  // Globals the language or Node defines (a user global is anything else).
  const BUILTIN_GLOBALS = new NMap();
  for (const k of ['Object', 'Function', 'Array', 'Number', 'parseFloat', 'parseInt', 'Infinity', 'NaN', 'undefined',
    'Boolean', 'String', 'Symbol', 'Date', 'Promise', 'RegExp', 'Error', 'AggregateError', 'EvalError', 'RangeError',
    'ReferenceError', 'SyntaxError', 'TypeError', 'URIError', 'globalThis', 'JSON', 'Math', 'Intl', 'ArrayBuffer',
    'Uint8Array', 'Int8Array', 'Uint16Array', 'Int16Array', 'Uint32Array', 'Int32Array', 'Float32Array', 'Float64Array',
    'Float16Array', 'Uint8ClampedArray', 'BigUint64Array', 'BigInt64Array', 'DataView', 'Map', 'BigInt', 'Set', 'WeakMap',
    'WeakSet', 'Proxy', 'Reflect', 'FinalizationRegistry', 'WeakRef', 'decodeURI', 'decodeURIComponent', 'encodeURI',
    'encodeURIComponent', 'escape', 'unescape', 'eval', 'isFinite', 'isNaN', 'console', 'process', 'global', 'Buffer',
    'clearImmediate', 'setImmediate', 'URL', 'URLSearchParams', 'DOMException', 'AbortController', 'AbortSignal', 'Event',
    'EventTarget', 'TextEncoder', 'TextDecoder', 'TransformStream', 'TransformStreamDefaultController', 'WritableStream',
    'WritableStreamDefaultController', 'WritableStreamDefaultWriter', 'ReadableStream', 'ReadableStreamDefaultReader',
    'ReadableStreamBYOBReader', 'ReadableStreamBYOBRequest', 'ReadableByteStreamController',
    'ReadableStreamDefaultController', 'ByteLengthQueuingStrategy', 'CountQueuingStrategy', 'TextEncoderStream',
    'TextDecoderStream', 'CompressionStream', 'DecompressionStream', 'clearInterval', 'clearTimeout', 'setInterval',
    'setTimeout', 'queueMicrotask', 'structuredClone', 'atob', 'btoa', 'BroadcastChannel', 'MessageChannel', 'MessagePort',
    'MessageEvent', 'Blob', 'File', 'Performance', 'PerformanceEntry', 'PerformanceMark', 'PerformanceMeasure',
    'PerformanceObserver', 'PerformanceObserverEntryList', 'PerformanceResourceTiming', 'performance', 'fetch', 'FormData',
    'Headers', 'Request', 'Response', 'SharedArrayBuffer', 'Atomics', 'WebAssembly', 'crypto', 'Crypto', 'CryptoKey',
    'SubtleCrypto', 'CustomEvent', 'navigator', 'Navigator', 'WebSocket', 'CloseEvent', 'EventSource', 'Iterator',
    'localStorage', 'sessionStorage', 'Storage', 'PerformanceTiming', 'PerformanceNavigation', 'PerformanceNavigationTiming',
    'assert', 'async_hooks', 'buffer', 'child_process', 'cluster', 'constants', 'dgram', 'diagnostics_channel', 'dns',
    'domain', 'events', 'fs', 'http', 'http2', 'https', 'inspector', 'net', 'os', 'path', 'perf_hooks', 'punycode',
    'querystring', 'readline', 'repl', 'stream', 'string_decoder', 'sys', 'timers', 'tls', 'trace_events', 'tty', 'url',
    'util', 'v8', 'vm', 'wasi', 'worker_threads', 'zlib', 'module', 'exports', 'require', '__filename', '__dirname']) {
    nmSet(BUILTIN_GLOBALS, k, true);
  }
  // Properties of process that Node defines; the rest (and _events) may be the application's.
  const BUILTIN_PROCESS = new NMap();
  for (const k of ['version', 'versions', 'arch', 'platform', 'release', '_rawDebug', 'moduleLoadList', 'binding',
    '_linkedBinding', '_eventsCount', '_maxListeners', 'domain', '_exiting', 'exitCode', 'config', 'dlopen', 'uptime',
    '_getActiveRequests', '_getActiveHandles', 'getActiveResourcesInfo', 'reallyExit', '_kill', 'loadEnvFile', 'cpuUsage',
    'resourceUsage', 'memoryUsage', 'constrainedMemory', 'availableMemory', 'kill', 'exit', 'hrtime', 'openStdin', 'getuid',
    'geteuid', 'getgid', 'getegid', 'getgroups', 'allowedNodeEnvironmentFlags', 'assert', 'features', '_fatalException',
    'setUncaughtExceptionCaptureCallback', 'hasUncaughtExceptionCaptureCallback', 'emitWarning', 'nextTick',
    '_tickCallback', 'sourceMapsEnabled', 'setSourceMapsEnabled', 'getBuiltinModule', '_debugProcess', '_debugEnd',
    '_startProfilerIdleNotifier', '_stopProfilerIdleNotifier', 'stdout', 'stdin', 'stderr', 'abort', 'umask', 'chdir',
    'cwd', 'initgroups', 'setgroups', 'setegid', 'seteuid', 'setgid', 'setuid', 'env', 'title', 'argv', 'execArgv', 'pid',
    'ppid', 'execPath', 'debugPort', 'argv0', '_eval', '_print_eval', '_preload_modules', 'report', 'mainModule',
    'permission', 'finalization', 'getActiveResourcesInfo', 'threadCpuUsage', 'ref', 'unref', 'channel', 'connected',
    'send', 'disconnect', '_channel', '_handleQueue', '_pendingMessage', 'noDeprecation', 'throwDeprecation',
    'traceDeprecation', 'execve', '_exiting', '_startProfilerIdleNotifier']) {
    nmSet(BUILTIN_PROCESS, k, true);
  }
  // A module scope made of primordials is one of Node's own modules.
  const PRIMORDIAL = /^(?:Array|ArrayBuffer|BigInt|Boolean|DataView|Date|Error|Function|JSON|Map|Math|Number|Object|Promise|Reflect|RegExp|SafeMap|SafeSet|SafeWeakMap|SafeWeakSet|SafePromise|Set|String|Symbol|TypedArray|Uint8Array|WeakMap|WeakSet|Atomics)[A-Z][A-Za-z]*$/;
  const PROTO_METHOD = /^[A-Z][A-Za-z]*Prototype[A-Z][A-Za-z]*$/;
  const TWO_BYTE = /[^\\u0000-\\u00ff]/;
  const DOT_NAME = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

  // Kinds of collection.
  // K_TIMERS: one of Node's per-duration timer lists (a linked list of Timeouts): leaked
  // setIntervals grow it while no collection of the application's does.
  // K_LIST: a linked list of the application's (a queue's or an LRU's nodes, an EventTarget's
  // listeners): objects of one prototype, each holding the next under the same key.
  // K_STRING: a string of at least STRING_MIN characters kept under a name (a buffer appended
  // to, \`pending += line\`): known by its path only, measured by its length, never read.
  const K_ARRAY = 1, K_MAP = 2, K_SET = 3, K_OBJECT = 4, K_TIMERS = 5, K_LIST = 6, K_STRING = 7;
  const KIND_NAMES = ['', 'Array', 'Map', 'Set', 'Object', 'Timers', 'LinkedList', 'String'];
  const STRING_MIN = 65536;
  const MAX_TIMER_COUNT = 1000000;
  const timerCount = (list) => {
    let t = list._idleNext, n = 0;
    while (isObj(t) && t !== list && n < MAX_TIMER_COUNT) { t = t._idleNext; n++; }
    return n;
  };
  // A linked list is measured from the first node the walk reaches along its link key: shorter
  // than LIST_MIN it is walked like any objects. Counting reads one descriptor a node (50-600 ns):
  // a count stops after LIST_MS (16 000 to 115 000 nodes in the tests) and is then incomplete
  // (a list met by the walk goes on counting in the next slices: listResume).
  const LIST_MIN = 32, LIST_MS = 10;
  // A count along a list: p = { first, k, proto, n (nodes counted, first included), last, prev
  // (the node before last), mark, power (Brent's marker, moved to the current node at each power
  // of two: it meets the count in any cycle within twice its length), want (a WeakSet or null),
  // met } — nodes of first's prototype only, each once (a ring, a node linking to itself or back
  // to an earlier one ends it). listAdvance counts on from p.last: 1 when it reached the end, 0
  // when 'until' came first, 2 (with stop) when it counted a node of want; without stop such a
  // node sets met and the count goes on.
  const listAdvance = (p, until, stop) => {
    let t = dataValue(p.last, p.k);
    while (isObj(t) && t !== p.first && t !== p.mark && t !== p.last && protoOf(t) === p.proto) {
      p.n++; p.prev = p.last; p.last = t;
      if (p.want !== null && (stop || !p.met) && wsHas(p.want, t)) { if (stop) return 2; p.met = true; }
      t = dataValue(t, p.k);
      if (p.n === p.power) { p.mark = p.last; p.power *= 2; }
      if ((p.n & 4095) === 0 && perfNow() > until) return 0;
    }
    return 1;
  };
  // [its length from o along k (o included), its last node, whether the count reached the end,
  // whether it stopped at a node of stopAt (a WeakSet, optional), the count (listAdvance's p) to
  // take up again when it did not reach the end], counting for at most LIST_MS.
  const listWalk = (o, k, proto, stopAt) => {
    const p = { first: o, k, proto, n: 1, last: o, prev: o, mark: o, power: 2, want: stopAt === undefined ? null : stopAt, met: false };
    if (p.want !== null && wsHas(p.want, o)) return [1, o, true, true, p];
    let done = 1;
    try { done = listAdvance(p, perfNow() + LIST_MS, true); } catch (e) {}
    return [p.n, p.last, done !== 0, done === 2, p];
  };
  // A count listWalk left incomplete, taken up again in a later slice (p updated; met: a node of
  // want was counted): 1 when it reached the end, 0 when 'until' came first, -1 when the list
  // changed where the count stopped (its last node unlinked or moved since: what follows it now is
  // not the rest of the list counted so far).
  const listResume = (p, until) => {
    try {
      if (dataValue(p.prev, p.k) !== p.last) return -1;
      return listAdvance(p, until, false);
    } catch (e) { return -1; }
  };
  // Kinds of path node.
  const N_GLOBAL = 1, N_EXPORT = 2, N_HANDLE = 3, N_SCOPE = 4, N_PROP = 5, N_SYMBOL = 6, N_INDEX = 7, N_MAPVAL = 8,
    N_MAPKEY = 9, N_SETMEMBER = 10, N_PROTO = 11, N_TIMER = 12, N_CLOSURE = 13, N_BOUND_THIS = 14, N_BOUND_TARGET = 15,
    N_BOUND_ARGS = 16, N_PROCESS = 17, N_TIMERS = 18, N_IMMEDIATE = 19, N_PRIVATE = 20;
  // Node flags.
  // F_LINK: reached from an object of its own prototype (a linked list's node reached from another).
  const F_BULK = 1, F_NO_OPEN = 2, F_NO_OPEN_CHILDREN = 4, F_LINK = 8, F_INTERNAL = 16;
  // Node's own objects of a connection (a request, a response, a socket, a client request): each
  // is hundreds of objects of Node's (headers, parsers, stream states, timers), and an HTTP
  // service holds one per request in flight and per connection open, often from its own records
  // (a connection kept with its req and res). Their children are walked INTERNAL_DEPTH levels
  // later than their depth (F_INTERNAL): the application's collections at the same depth are
  // reached first, within the visit cap; nothing is skipped.
  const INTERNAL_DEPTH = 4;
  const internalProtos = new WS();
  for (const [mod, names] of [['http', ['IncomingMessage', 'ServerResponse', 'ClientRequest']], ['net', ['Socket']], ['tls', ['TLSSocket']]]) {
    try { const m = builtin(mod); for (let i = 0; i < names.length; i++) { const C = m && m[names[i]]; if (typeof C === 'function' && C.prototype !== null && typeof C.prototype === 'object') wsAdd(internalProtos, C.prototype); } } catch (e) {}
  }
  const ROLE_PLAIN = ${FN_ROLE.plain}, ROLE_EXPORT = ${FN_ROLE.export}, ROLE_TIMERS = ${FN_ROLE.timers}, ROLE_PRIVATE = ${FN_ROLE.private}, ROLE_CHAIN = ${FN_ROLE.chain};

  // Size and time of a collection in one number: size * 2^26 + deciseconds since install (77 days before it wraps).
  const TSCALE = 67108864, MAXSIZE = 134217727;
  const installedAt = dateNow();
  const nowDs = () => floor((dateNow() - installedAt) / 100) % TSCALE;
  const enc = (size, ds) => (size > MAXSIZE ? MAXSIZE : size) * TSCALE + ds;
  const decSize = (v) => floor(v / TSCALE);
  const decDs = (v) => v % TSCALE;
  const elapsedS = (fromDs, toDs) => ((toDs - fromDs + TSCALE) % TSCALE) / 10;

  const state = {
    version: __LW_WALKER_VERSION__,
    installId: String(installedAt) + '-' + String(process.pid),
    rec: new WM(), // collection -> enc(size, time) at its last measurement
    ids: new WM(), // collection -> id, for collections reported or tracked
    huge: new WM(), // dictionary -> ms its keys took to list, when slow
    links: new WM(), // linked list (its first node) -> the key each node holds the next under
    privateClass: new WM(), // prototype -> whether its class (or a parent class) declares private fields
    scopes: new WS(), // closure scopes handed over as a chain's elements (described as 'closure {…}')
    probes: new WM(), // Set, Map or Array -> [members sampled when it was last reported, 1 if all of them, then what stayersOf adds] (see takeProbes)
    backing: new WM(), // Array of Buffers -> [stores its members viewed at its reports (WeakMap), bytes of its members at the last, its reports] (see scanBacking)
    byPath: new NMap(), // path of a collection (named steps only) -> [enc(size, time), anchors] at its last measurement, bounded
    pathProbes: new NMap(), // path of a reported collection (as byPath) -> its probes then (as probes): what is at that path now is probed with them (see finish)
    low: new WM(), // tracked Array, Map or Set -> its lowest size sampled since its last measurement (see sample)
    lastLow: new WM(), // collection -> its lowest size over the interval its last measurement closed
    rise: new WM(), // tracked collection -> [its highest size sampled since its last measurement, the polls it rose to a new high at, when it last did (ds)]
    nextId: 1,
    tracked: [], // [{ id, ref: WeakRef, kind }], bounded
    reported: new WS(), // collections in the last search's report: measured at the next whatever their size (see record)
    searches: 0,
    cur: null,
  };

  // A collection's lowest size between two measurements. sample() lowers it at each poll of the
  // sidecar between searches (tracked Arrays, Maps and Sets: their size is one read); a
  // measurement closes the interval. Returns [the lowest size since the previous measurement
  // (that one and this one included), or -1 when nothing was sampled in between; the same of the
  // interval before, or -1] and, when sampled, [the polls (this measurement included) at which it
  // rose above its highest size since the previous measurement, seconds since it last did].
  const closeInterval = (o, size) => {
    const low = wmGet(state.low, o);
    const before = wmGet(state.lastLow, o);
    const rise = wmGet(state.rise, o);
    wmDel(state.low, o); wmDel(state.rise, o);
    if (low === undefined) { wmDel(state.lastLow, o); return [-1, -1]; }
    const now = size < low ? size : low;
    wmSet(state.lastLow, o, now);
    if (rise === undefined) return [now, before === undefined ? -1 : before];
    const at = nowDs(), up = size > rise[0];
    return [now, before === undefined ? -1 : before, rise[1] + (up ? 1 : 0), up ? 0 : elapsedS(rise[2], at)];
  };

  const isObj = (v) => v !== null && (typeof v === 'object' || typeof v === 'function');
  // An object's prototype without running a proxy's trap (a proxy has none here: undefined).
  const protoOf = (v) => T.isProxy(v) ? undefined : getProto(v);
  const copyStr = (s, n) => {
    // A fresh flat string (never a slice that keeps a big parent string alive after the search).
    const t = s.length > n ? strSlice(s, 0, n) + '\\u2026' : s;
    return jsonStringify(t).slice(1, -1);
  };
  const quote = (s) => "'" + strReplace(copyStr(s, 48), /'/g, "\\\\'") + "'";
  const dataValue = (o, k) => {
    const d = getDesc(o, k);
    if (d === undefined || !('value' in d)) return undefined;
    return d.value;
  };
  const ctorName = (o) => {
    try {
      const p = getProto(o);
      if (p === null) return '[null prototype]';
      if (p === ObjProto) return '';
      if (T.isProxy(p)) return 'Object';
      const c = dataValue(p, 'constructor');
      if (typeof c === 'function' && !T.isProxy(c)) {
        const n = dataValue(c, 'name');
        if (typeof n === 'string' && n !== '') return copyStr(n, 40);
      }
    } catch (e) {}
    return 'Object';
  };
  const fnName = (f) => {
    try { const n = dataValue(f, 'name'); if (typeof n === 'string' && n !== '') return copyStr(n, 60); } catch (e) {}
    return '';
  };
  const rootKind = (v) => {
    try {
      if (typeof v === 'function') return T.isProxy(v) ? 'Proxy' : (startsWith(fnToString(v), 'class') ? 'class' : 'function');
      if (T.isProxy(v)) return 'Proxy';
      if (isArray(v)) return 'Array';
      if (T.isMap(v)) return 'Map';
      if (T.isSet(v)) return 'Set';
      return ctorName(v) || 'Object';
    } catch (e) { return 'Object'; }
  };
  const isBufferLike = (v) => isView(v) || T.isAnyArrayBuffer(v);
  const bufferBytes = (v) => {
    try {
      if (T.isDataView(v)) return dvByteLength(v);
      if (isView(v)) return taByteLength(v);
      if (T.isSharedArrayBuffer(v)) return sabByteLength ? sabByteLength(v) : 0;
      if (T.isArrayBuffer(v)) return abByteLength(v);
    } catch (e) {}
    return 0;
  };
  // An Array of Buffers, typed arrays or ArrayBuffers, read in two steps. scanBacking: [a WeakMap
  // of the distinct backing stores its members are (views onto) -> bytes of its members on it,
  // those stores, bytes of the stores, bytes of the members]; null when a member is none of these,
  // it has more than BACKING_MAX members or reading them takes over BACKING_MAX_MS. backingOf:
  // [bytes of the stores, bytes of the members, bytes of the members on stores new to it, the most
  // bytes its members gained on one store since report 'last', bytes of the members on stores new
  // to it that another Array of Buffers holds now and held at an earlier report of its own]
  // (growth.ts viewsOntoSameStores). 'known': a WeakMap of the stores
  // its members viewed at its earlier reports -> [bytes of its members on it, the report], to
  // which this one's (report 'last' + 1) are written. 'elsewhere': a WeakMap of the stores held so
  // -> the Array holding them (HELD_BY_MANY when several do).
  const BACKING_MAX = 65536, BACKING_MAX_MS = 2, HELD_BY_MANY = true;
  const scanBacking = (a) => {
    if (T.isProxy(a) || !isArray(a) || a.length > BACKING_MAX) return null;
    const onStore = new WM(), found = [], t0 = perfNow();
    let stores = 0, views = 0;
    try {
      for (let i = 0; i < a.length; i++) {
        const v = a[i];
        if (!isObj(v) || !isBufferLike(v)) return null;
        const store = T.isDataView(v) ? dvBuffer(v) : isView(v) ? taBuffer(v) : v;
        const bytes = bufferBytes(v);
        views += bytes;
        const sum = wmGet(onStore, store);
        if (sum === undefined) { wmSet(onStore, store, bytes); push(found, store); stores += bufferBytes(store); }
        else wmSet(onStore, store, sum + bytes);
        if ((i & 1023) === 1023 && perfNow() - t0 > BACKING_MAX_MS) return null;
      }
    } catch (e) { return null; }
    return [onStore, found, stores, views];
  };
  // Notes in 'elsewhere' the stores of scan 'scan' of 'a' that 'known' (its earlier reports) holds.
  const heldSince = (a, scan, known, elsewhere) => {
    const found = scan[1];
    for (let i = 0; i < found.length; i++) {
      if (wmGet(known, found[i]) === undefined) continue;
      const by = wmGet(elsewhere, found[i]);
      wmSet(elsewhere, found[i], by === undefined || by === a ? a : HELD_BY_MANY);
    }
  };
  const backingOf = (a, scan, known, last, elsewhere) => {
    const onStore = scan[0], found = scan[1];
    let onNew = 0, gain = 0, held = 0;
    for (let i = 0; i < found.length; i++) {
      const store = found[i], bytes = wmGet(onStore, store), had = wmGet(known, store);
      if (had === undefined) {
        const by = wmGet(elsewhere, store);
        if (by !== undefined && by !== a) { held += bytes; gain = MathMax(gain, bytes); }
        else onNew += bytes;
      } else gain = MathMax(gain, bytes - (had[1] === last ? had[0] : 0));
      wmSet(known, store, [bytes, last + 1]);
    }
    return [scan[2], scan[3], onNew, gain, held];
  };
  const describe = (v) => {
    if (v === null) return 'null';
    const t = typeof v;
    if (t === 'function') { if (T.isProxy(v)) return 'Proxy'; const n = fnName(v); return n === '' ? 'function' : 'function ' + n; }
    if (t !== 'object') return t;
    if (T.isProxy(v)) return 'Proxy';
    if (isArray(v)) return 'Array(' + v.length + ')';
    if (T.isMap(v)) return 'Map(' + mapSize(v) + ')';
    if (T.isSet(v)) return 'Set(' + setSize(v) + ')';
    if (isBufferLike(v)) return (ctorName(v) || 'ArrayBuffer') + '(' + bufferBytes(v) + ')';
    if (T.isPromise(v)) return 'Promise';
    if (T.isDate(v)) return 'Date';
    if (T.isRegExp(v)) return 'RegExp';
    if (T.isWeakMap(v)) return 'WeakMap';
    if (T.isWeakSet(v)) return 'WeakSet';
    const c = wsHas(state.scopes, v) ? 'closure' : ctorName(v);
    let keys;
    try { keys = objectKeys(v); } catch (e) { return c || 'Object'; }
    const shown = [];
    for (let i = 0; i < keys.length && i < 8; i++) push(shown, copyStr(keys[i], 24));
    const body = '{' + shown.join(', ') + (keys.length > 8 ? ', \\u2026' : '') + '}';
    return c === '' ? body : c + ' ' + body;
  };
  // Bytes of one value itself (64-bit heap, no pointer compression: a rough figure).
  const shallow = (v) => {
    const t = typeof v;
    if (t === 'string') return 16 + (v.length > 0 && reTest(TWO_BYTE, strSlice(v, 0, 256)) ? 2 : 1) * v.length;
    if (t === 'number') return isInteger(v) && v >= -1073741824 && v < 1073741824 ? 0 : 16;
    if (t === 'bigint') return 24;
    if (t === 'function') return 64;
    if (t !== 'object' || v === null) return 0;
    if (T.isProxy(v)) return 32;
    if (isArray(v)) return 32 + 8 * v.length;
    if (T.isMap(v)) return 48 + 40 * mapSize(v);
    if (T.isSet(v)) return 48 + 32 * setSize(v);
    if (isBufferLike(v)) return 80 + bufferBytes(v);
    if (T.isWeakMap(v) || T.isWeakSet(v) || T.isPromise(v)) return 32;
    let n = 0;
    try { n = objectKeys(v).length; } catch (e) {}
    return 24 + 8 * n;
  };
  // Bytes of v and of what it holds depth levels down: up to 8 children a level (spread over an
  // Array or a dictionary's keys, the first of a Map or Set), their sum scaled to all its
  // children (a report holding 14 400 rows weighs its rows, not 8 of them). A record of up to
  // RECORD_FIELDS fields has every field read: its fields are not alike, and a job's log lines
  // are its eleventh. WEIGH_DEPTH levels, at most WEIGH_OBJECTS objects opened an element (the
  // rest weigh themselves only): a print job's pages hold their bands, strings three levels
  // below the job; a chat session's outbox holds envelopes of strings.
  const RECORD_FIELDS = 24;
  const WEIGH_DEPTH = 4;
  const WEIGH_OBJECTS = 400;
  let weighLeft = 0;
  const deep = (v, depth) => {
    let total = shallow(v);
    if (depth <= 0 || !isObj(v) || typeof v === 'function' || T.isProxy(v) || isBufferLike(v)) return total;
    if (--weighLeft < 0) return total;
    const kids = [];
    let all = 0, taken = 0;
    try {
      if (isArray(v)) {
        all = v.length; taken = all < 8 ? all : 8;
        for (let j = 0; j < taken; j++) push(kids, v[floor((j * all) / taken)]);
      } else if (T.isMap(v)) {
        all = mapSize(v);
        const it = mapEntries(v);
        for (; taken < 8; taken++) { const r = mapIterNext(it); if (r.done) break; push(kids, r.value[0]); push(kids, r.value[1]); }
      } else if (T.isSet(v)) {
        all = setSize(v);
        const it = setValues(v);
        for (; taken < 8; taken++) { const r = setIterNext(it); if (r.done) break; push(kids, r.value); }
      } else if (!T.isWeakMap(v) && !T.isWeakSet(v) && !T.isPromise(v) && !T.isDate(v) && !T.isRegExp(v)) {
        const keys = objectKeys(v);
        all = keys.length; taken = all <= RECORD_FIELDS ? all : 8;
        for (let j = 0; j < taken; j++) { const x = dataValue(v, keys[floor((j * all) / taken)]); if (x !== undefined) push(kids, x); }
      }
    } catch (e) {}
    let held = 0;
    for (let i = 0; i < kids.length; i++) held += deep(kids[i], depth - 1);
    return total + (taken > 0 && all > taken ? (held * all) / taken : held);
  };
  /** Bytes of one element and what it holds (see deep). */
  const weigh = (v) => { weighLeft = WEIGH_OBJECTS; return deep(v, WEIGH_DEPTH); };

  const hello = (fresh) => ({
    ok: true, fresh, version: 1, installId: state.installId, pid: process.pid,
    busy: state.cur !== null, searches: state.searches,
    cwd: (() => { try { return process.cwd(); } catch (e) { return ''; } })(),
  });

`
