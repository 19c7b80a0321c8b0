/**
 * The in-target half of the holder search: fixed JavaScript installed once per
 * process under a `Symbol.for` key, and the expressions that drive it.
 *
 * The inspector is remote code execution, so the rule of src/inspector/snippets.ts
 * holds here too: every piece of source below is fixed text written here. The
 * only values spliced into an expression are integers checked by
 * `checkedInteger` (slice budget, page offsets, caps); everything else reaches
 * the target as a by-value argument of `Runtime.callFunctionOn` (plain JSON of
 * integers), never as code.
 *
 * What the walker does, in slices that each return to the event loop:
 *   - roots a developer would name: module scopes (reached through functions'
 *     `[[Scopes]]`, which only the inspector can open: the sidecar opens the
 *     functions the walker lists and hands their scope lists back), the exports
 *     in `require.cache`, user globals, `process` listeners, active handles,
 *     the timer lists;
 *   - a breadth-first walk of own data properties, Map/Set entries and array
 *     elements, sampling big collections (first and last elements), with caps
 *     on objects visited, path nodes and functions opened;
 *   - collections (Array, Map, Set, objects used as dictionaries) are measured
 *     and their size and time kept in a WeakMap keyed by the collection (so a
 *     later search sees the growth, and nothing is retained); the biggest are
 *     also tracked through WeakRefs so that a later search re-measures them even
 *     when its walk does not reach them.
 * Never run: getters (only data descriptors are read), proxy traps (proxies are
 * skipped), `Error.prepareStackTrace` (an error's `stack` is skipped), WeakMap
 * or WeakSet entries. Nothing here forces a GC.
 *
 * Per-search state (queue, visited set, path nodes) lives only during a search
 * and is dropped by `end()`, or by a watchdog timer if the sidecar goes away.
 * What stays between searches: the two WeakMaps (entries die with their
 * collections), the tracked WeakRefs (bounded) and this code.
 */

/** Key of the walker on `globalThis`; the version is part of it. */
export const WALKER_KEY = 'leakwatch.holders.v1'

/** Object group of every remote object a search creates; released at the end of the search. */
export const HOLDER_OBJECT_GROUP = 'leakwatch-holders'
/** Group of one batch of opened functions and scope lists; released after each batch. */
export const HOLDER_FN_GROUP = 'leakwatch-holders-fn'

/** Roles of a function listed for opening (mirrored in the source below). */
export const FN_ROLE = { plain: 0, export: 1, timers: 2 } as const

/** Bounds of every integer ever spliced into a walker expression. */
export const WALKER_LIMITS = {
  sliceMs: [1, 200],
  takeFunctions: [1, 64],
  pageOffset: [0, 100_000],
  pageCount: [1, 200],
} as const

/** Options of one search as the walker receives them: integers only, each within bounds. */
export interface WalkerBeginOptions {
  /** Objects visited at most (the walk stops there and says so). */
  readonly maxVisits: number
  /** Path nodes (enqueued objects) at most: bounds the search's own memory. */
  readonly maxNodes: number
  /** Functions listed for opening (each costs the sidecar one round trip). */
  readonly maxFunctions: number
  /** Elements walked per collection: the first half and the last half. */
  readonly sample: number
  /** A collection above this size makes its elements "bulk": their small collections are not recorded. */
  readonly bulkMin: number
  /** An object with at least this many keys counts as a dictionary. */
  readonly dictMin: number
  /** Collections below this size are not reported (unless their size changed). */
  readonly minSize: number
  /** Closures opened per distinct function source (closures of one source differ only in their inner scopes). */
  readonly perCode: number
  /** A dictionary whose keys took longer than this to list is not listed again (ms). */
  readonly maxStepMs: number
  /** Modules read from `require.cache` at most. */
  readonly maxModules: number
  /** Timers read per timer list at most. */
  readonly maxTimers: number
  /** Collections tracked through WeakRefs between searches at most. */
  readonly maxTracked: number
  /** Candidates kept for the report: the fastest growing, then the biggest. */
  readonly maxHolders: number
  /** Idle time after which an abandoned search's state is dropped in the target (ms). */
  readonly watchdogMs: number
}

export const WALKER_OPTION_BOUNDS: Readonly<Record<keyof WalkerBeginOptions, readonly [number, number]>> = {
  maxVisits: [100, 1_000_000],
  maxNodes: [100, 2_000_000],
  maxFunctions: [0, 5_000],
  sample: [2, 1_000],
  bulkMin: [2, 1_000_000],
  dictMin: [1, 1_000_000],
  minSize: [0, 1_000_000],
  perCode: [1, 100],
  maxStepMs: [1, 10_000],
  maxModules: [0, 100_000],
  maxTimers: [0, 100_000],
  maxTracked: [0, 10_000],
  maxHolders: [1, 1_000],
  watchdogMs: [1_000, 600_000],
}

/** An integer within [min, max], or an error: the only way a number reaches walker source. */
export function checkedInteger(name: string, value: number, [min, max]: readonly [number, number]): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer in [${min}, ${max}], got ${String(value)}`)
  }
  return value
}

/** The begin options with every field checked: a plain object of integers, safe to JSON-splice. */
export function checkedBeginOptions(options: WalkerBeginOptions): WalkerBeginOptions {
  const out: Record<string, number> = {}
  for (const [name, bounds] of Object.entries(WALKER_OPTION_BOUNDS)) {
    out[name] = checkedInteger(name, (options as unknown as Record<string, number>)[name] ?? Number.NaN, bounds)
  }
  return out as unknown as WalkerBeginOptions
}

const WALKER_REF = `globalThis[Symbol.for(${JSON.stringify(WALKER_KEY)})]`

/**
 * Installs the walker once per process and answers what it can do. Idempotent:
 * a second evaluation finds the walker and only says hello.
 */
export const INSTALL_HOLDER_WALKER = `(() => {
  const KEY = Symbol.for(${JSON.stringify(WALKER_KEY)});
  const g = globalThis;
  const have = g[KEY];
  if (have !== undefined && have !== null && have.version === 1) return have.hello(false);
  const builtin = (name) => {
    try {
      if (typeof process.getBuiltinModule === 'function') return process.getBuiltinModule(name);
      if (process.mainModule && typeof process.mainModule.require === 'function') return process.mainModule.require(name);
    } catch (e) {}
    return undefined;
  };
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
  const TAProto = getProto(Uint8Array.prototype);
  const taByteLength = un(getDesc(TAProto, 'byteLength').get);
  const abByteLength = un(getDesc(ArrayBuffer.prototype, 'byteLength').get);
  const sabByteLength = typeof SharedArrayBuffer === 'function' ? un(getDesc(SharedArrayBuffer.prototype, 'byteLength').get) : null;
  const dvByteLength = un(getDesc(DataView.prototype, 'byteLength').get);
  const WM = WeakMap, WS = WeakSet, WR = WeakRef, NMap = Map;
  const wmGet = un(WM.prototype.get), wmSet = un(WM.prototype.set), wmHas = un(WM.prototype.has);
  const wsAdd = un(WS.prototype.add), wsHas = un(WS.prototype.has);
  const wrDeref = un(WR.prototype.deref);
  const nmGet = un(NMap.prototype.get), nmSet = un(NMap.prototype.set);
  const push = un(Array.prototype.push), slice = un(Array.prototype.slice), sortArr = un(Array.prototype.sort);
  const strSlice = un(String.prototype.slice), strReplace = un(String.prototype.replace), startsWith = un(String.prototype.startsWith);
  const endsWith = un(String.prototype.endsWith), reTest = un(RegExp.prototype.test);
  const symDesc = un(getDesc(Symbol.prototype, 'description').get);
  const jsonStringify = JSON.stringify, floor = Math.floor, MathMax = Math.max, MathMin = Math.min, isInteger = Number.isInteger;
  const dateNow = Date.now;
  const perfNow = perfHooks && perfHooks.performance ? perfHooks.performance.now.bind(perfHooks.performance) : Date.now;
  const setTimer = timersModule ? timersModule.setTimeout : setTimeout;
  const clearTimer = timersModule ? timersModule.clearTimeout : clearTimeout;
  const WRProto = WR.prototype;
  const FRProto = typeof FinalizationRegistry === 'function' ? FinalizationRegistry.prototype : null;
  const AGENT = Symbol.for('leakwatch.agent.v2');

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
  const K_ARRAY = 1, K_MAP = 2, K_SET = 3, K_OBJECT = 4;
  const KIND_NAMES = ['', 'Array', 'Map', 'Set', 'Object'];
  // Kinds of path node.
  const N_GLOBAL = 1, N_EXPORT = 2, N_HANDLE = 3, N_SCOPE = 4, N_PROP = 5, N_SYMBOL = 6, N_INDEX = 7, N_MAPVAL = 8,
    N_MAPKEY = 9, N_SETMEMBER = 10, N_PROTO = 11, N_TIMER = 12, N_CLOSURE = 13, N_BOUND_THIS = 14, N_BOUND_TARGET = 15,
    N_BOUND_ARGS = 16, N_PROCESS = 17, N_TIMERS = 18, N_IMMEDIATE = 19;
  // Node flags.
  const F_BULK = 1, F_NO_OPEN = 2, F_NO_OPEN_CHILDREN = 4;
  const ROLE_PLAIN = ${FN_ROLE.plain}, ROLE_EXPORT = ${FN_ROLE.export}, ROLE_TIMERS = ${FN_ROLE.timers};

  // Size and time of a collection in one number: size * 2^26 + deciseconds since install (77 days before it wraps).
  const TSCALE = 67108864, MAXSIZE = 134217727;
  const installedAt = dateNow();
  const nowDs = () => floor((dateNow() - installedAt) / 100) % TSCALE;
  const enc = (size, ds) => (size > MAXSIZE ? MAXSIZE : size) * TSCALE + ds;
  const decSize = (v) => floor(v / TSCALE);
  const decDs = (v) => v % TSCALE;
  const elapsedS = (fromDs, toDs) => ((toDs - fromDs + TSCALE) % TSCALE) / 10;

  const state = {
    version: 1,
    installId: String(installedAt) + '-' + String(process.pid),
    rec: new WM(), // collection -> enc(size, time) at its last measurement
    ids: new WM(), // collection -> id, for collections reported or tracked
    huge: new WM(), // dictionary -> ms its keys took to list, when slow
    nextId: 1,
    tracked: [], // [{ id, ref: WeakRef, kind }], bounded
    searches: 0,
    cur: null,
  };

  const isObj = (v) => v !== null && (typeof v === 'object' || typeof v === 'function');
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
    const c = ctorName(v);
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
  // One value and what it holds, two levels down, 8 children per level.
  const deep = (v, depth) => {
    let total = shallow(v);
    if (depth <= 0 || !isObj(v) || typeof v === 'function' || T.isProxy(v) || isBufferLike(v)) return total;
    const kids = [];
    try {
      if (isArray(v)) { for (let i = 0; i < v.length && i < 8; i++) push(kids, v[i]); }
      else if (T.isMap(v)) { const it = mapEntries(v); for (let i = 0; i < 8; i++) { const r = mapIterNext(it); if (r.done) break; push(kids, r.value[0]); push(kids, r.value[1]); } }
      else if (T.isSet(v)) { const it = setValues(v); for (let i = 0; i < 8; i++) { const r = setIterNext(it); if (r.done) break; push(kids, r.value); } }
      else if (!T.isWeakMap(v) && !T.isWeakSet(v) && !T.isPromise(v) && !T.isDate(v) && !T.isRegExp(v)) {
        const keys = objectKeys(v);
        for (let i = 0; i < keys.length && i < 8; i++) { const x = dataValue(v, keys[i]); if (x !== undefined) push(kids, x); }
      }
    } catch (e) {}
    for (let i = 0; i < kids.length; i++) total += deep(kids[i], depth - 1);
    return total;
  };

  const hello = (fresh) => ({
    ok: true, fresh, version: 1, installId: state.installId, pid: process.pid,
    busy: state.cur !== null, searches: state.searches,
    cwd: (() => { try { return process.cwd(); } catch (e) { return ''; } })(),
  });

  // ---- one search ----
  const trunc = (c, why) => { if (nmGet(c.truncSeen, why) === undefined) { nmSet(c.truncSeen, why, true); push(c.truncated, why); } };
  const addNode = (c, parent, type, key, extra, flags) => {
    const id = c.np.length;
    if (id >= c.o.maxNodes) { trunc(c, 'path nodes'); return -1; }
    push(c.np, parent); push(c.nt, type); push(c.nk, key); push(c.nx, extra); push(c.nx2, undefined); push(c.nf, flags);
    push(c.nd, parent < 0 ? 0 : c.nd[parent] + 1);
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
    push(c.fns, f); push(c.fnMeta, jsonStringify({ node, role, file: file || '', index: index === undefined ? -1 : index, name: fnName(f) }));
    push(c.fnSize, srcLength(f));
    const fd = node >= 0 ? c.nd[node] : -1;
    push(c.fnDepth, fd);
    if (fd < c.fnMinDepth) c.fnMinDepth = fd;
  };
  const record = (c, o, n, size, kind, samples) => {
    const flags = n >= 0 ? c.nf[n] : 0;
    const prev = wmGet(state.rec, o);
    const ds = nowDs();
    const bulk = (flags & F_BULK) !== 0;
    const keep = kind === K_OBJECT ? (size >= c.o.dictMin || (!bulk && n >= 0 && c.nd[n] <= 2)) : (size >= 8 || !bulk);
    if (keep || prev !== undefined) wmSet(state.rec, o, enc(size, ds));
    if (size >= c.o.minSize || (prev !== undefined && decSize(prev) !== size)) {
      push(c.measured, [o, n, size, prev === undefined ? -1 : prev, kind, ds, samples || null]);
    }
  };

  const visitChildrenOf = (c, o, n, keys, flagsForChildren, isProto) => {
    const K = c.o.sample;
    const len = keys.length;
    const error = T.isNativeError(o);
    let openedOne = false;
    const one = (k) => {
      if (error && k === 'stack') return;
      if (k === '_idleNext' || k === '_idlePrev') return; // Node's timer and immediate lists: walked as lists
      let v;
      try { v = dataValue(o, k); } catch (e) { return; }
      if (!isObj(v)) return;
      let f = flagsForChildren;
      if (typeof v === 'function' && isProto) { if (openedOne) f |= F_NO_OPEN; else openedOne = true; }
      if (typeof k === 'symbol') enqueue(c, v, n, N_SYMBOL, k, 0, f);
      else enqueue(c, v, n, N_PROP, k, 0, f);
    };
    if (len <= K) { for (let i = 0; i < len; i++) one(keys[i]); return; }
    c.sampledCollections++;
    const h = floor(K / 2);
    for (let i = 0; i < h; i++) one(keys[i]);
    for (let i = len - (K - h); i < len; i++) one(keys[i]);
  };

  const visitFunction = (c, f, n) => {
    const flags = c.nf[n];
    let src = '';
    try { src = fnToString(f); } catch (e) {}
    const name = fnName(f);
    const native = endsWith(src, '{ [native code] }');
    const bound = native && startsWith(name, 'bound ');
    if ((!native || bound) && (flags & F_NO_OPEN) === 0) {
      const key = bound ? 'bound:' + name : src;
      const count = nmGet(c.codeCount, key) || 0;
      if (count < c.o.perCode) { nmSet(c.codeCount, key, count + 1); addFunction(c, f, n, ROLE_PLAIN, ''); }
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
    const h = floor(K / 2);
    for (let i = 0; i < h; i++) one(i);
    for (let i = len - (K - h); i < len; i++) one(i);
  };

  const visitMap = (c, m, n) => {
    const size = mapSize(m);
    record(c, m, n, size, K_MAP, null);
    const cf = (c.nf[n] & F_BULK) | (size > c.o.bulkMin ? F_BULK : 0);
    const it = mapEntries(m);
    const K = c.o.sample;
    for (let i = 0; i < K; i++) {
      const r = mapIterNext(it);
      if (r.done) break;
      const key = r.value[0], v = r.value[1];
      if (isObj(v)) enqueue(c, v, n, N_MAPVAL, key, i, cf);
      if (isObj(key)) enqueue(c, key, n, N_MAPKEY, i, 0, cf);
    }
    if (size > K) c.sampledCollections++;
  };

  const visitSet = (c, s, n) => {
    const size = setSize(s);
    record(c, s, n, size, K_SET, null);
    const cf = (c.nf[n] & F_BULK) | (size > c.o.bulkMin ? F_BULK : 0);
    const it = setValues(s);
    const K = c.o.sample;
    for (let i = 0; i < K; i++) {
      const r = setIterNext(it);
      if (r.done) break;
      if (isObj(r.value)) enqueue(c, r.value, n, N_SETMEMBER, i, 0, cf);
    }
    if (size > K) c.sampledCollections++;
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
      }
    }
    const cf = (flags & F_BULK) | (plain && keys.length > c.o.bulkMin ? F_BULK : 0) |
      ((flags & F_NO_OPEN_CHILDREN) !== 0 ? F_NO_OPEN : 0);
    visitChildrenOf(c, o, n, keys, cf, c.nt[n] === N_PROTO);
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
          if (isObj(l)) walkTimerList(c, l, node, N_TIMER, Number(ks[i]));
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
  // metas[i]: { ref, node, role, skipModule, skipAll, scopes, boundTarget, boundThis, boundArgs } (argument indexes or -1).
  const addScopes = (metas, args) => {
    const c = state.cur;
    if (c === null) return { ok: false };
    touch(c);
    const internal = [], modules = [], files = [];
    for (let i = 0; i < metas.length; i++) {
      const m = metas[i];
      const node = m.node >= 0 && m.node < c.np.length ? m.node : -1;
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
          for (let k = 0; k < names.length; k++) {
            const nm = names[k];
            if (nm === 'primordials' || nm === 'internalBinding') { prim += 3; continue; }
            if (nm === 'require') { const r = dataValue(o, nm); if (typeof r === 'function' && fnName(r) === 'requireBuiltin') prim += 3; continue; }
            if (typeof nm === 'string' && (reTest(PROTO_METHOD, nm) || reTest(PRIMORDIAL, nm)) && typeof dataValue(o, nm) === 'function') prim++;
          }
          if (prim >= 3 || (prim >= 2 && names.length < 12)) { push(internal, m.ref); skipInner = true; continue; }
          push(modules, m.ref);
          const file = fileOfScope(o);
          if (file !== '') push(files, [m.ref, file]);
        }
        const label = copyStr(d, 80);
        for (let k = 0; k < names.length; k++) {
          const nm = names[k];
          if (typeof nm !== 'string') continue;
          // The CommonJS wrapper's own names: Node's loader objects (exports are roots already).
          if (isModule && (nm === 'require' || nm === 'module' || nm === 'exports' || nm === '__filename' || nm === '__dirname')) continue;
          let v;
          try { v = dataValue(o, nm); } catch (e) { continue; }
          if (!isObj(v)) continue;
          const id = isModule ? enqueue(c, v, -1, N_SCOPE, nm, m.ref, 0) : enqueue(c, v, node, N_CLOSURE, nm, m.ref, 0);
          if (id >= 0) c.nx2[id] = label;
        }
        c.scopesAdded++;
      }
    }
    return { ok: true, internal, modules, files, queued: c.queued, pendingFunctions: c.fns.length - c.fnBase };
  };

  const touch = (c) => { c.lastActive = perfNow(); try { c.watchdog.refresh(); } catch (e) {} };
  const dropSearch = (c) => { if (state.cur === c) state.cur = null; try { clearTimer(c.watchdog); } catch (e) {} };

  const begin = (o) => {
    if (state.cur !== null) {
      if (perfNow() - state.cur.lastActive < o.watchdogMs) return { ok: false, busy: true };
      dropSearch(state.cur);
    }
    const c = {
      o, startedMs: perfNow(), lastActive: perfNow(), watchdog: null,
      visited: new WS(), opened: new WS(), codeCount: new NMap(), truncSeen: new NMap(), truncated: [],
      buckets: [], minDepth: 0, queued: 0, // breadth first: one FIFO per depth, the shallowest first
      np: [], nt: [], nk: [], nx: [], nx2: [], nf: [], nd: [], rootKinds: new NMap(),
      fns: [], fnMeta: [], fnSize: [], fnDepth: [], fnMinDepth: Infinity, fnBase: 0, notOpened: 0, builtinsIntact: builtinsIntact(),
      measured: [], out: null,
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
    try { const a = g[AGENT]; if (isObj(a)) wsAdd(c.visited, a); } catch (e) {}
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
    return { ok: true, busy: false, beginMs: ms, queued: c.queued, pendingFunctions: c.fns.length - c.fnBase,
      installId: state.installId, cwd: hello(false).cwd, mainFile: mainFile(), mainIndex: mainIndex() };
  };

  const progress = (c, sliceMs) => ({
    ok: true, sliceMs, visits: c.visits, queued: c.queued, pendingFunctions: c.fns.length - c.fnBase,
    nodes: c.np.length, capped: c.visits >= c.o.maxVisits,
  });

  const step = (budgetMs) => {
    const c = state.cur;
    if (c === null) return { ok: false };
    touch(c);
    const t0 = perfNow();
    const deadline = t0 + budgetMs;
    let longest = 0;
    while (c.queued > 0) {
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
      } else if (stored !== null) {
        for (let i = 0; i < stored.length; i++) push(out, stored[i]);
      }
    } catch (e) {}
    return { values: out, keys };
  };
  const uniq = (arr) => { const seen = new NMap(), out = []; for (let i = 0; i < arr.length; i++) if (nmGet(seen, arr[i]) === undefined) { nmSet(seen, arr[i], true); push(out, arr[i]); } return out; };
  const tableBytes = (kind, size) => kind === K_ARRAY ? 32 + 8 * size : kind === K_MAP ? 48 + 40 * size : kind === K_SET ? 48 + 32 * size : 24 + 40 * size;
  const idOf = (o) => { let id = wmGet(state.ids, o); if (id === undefined) { id = state.nextId++; wmSet(state.ids, o, id); } return id; };

  const finish = () => {
    const c = state.cur;
    if (c === null) return { ok: false };
    touch(c);
    const t0 = perfNow();
    // Re-measure tracked collections the walk did not reach.
    const alive = [];
    for (let i = 0; i < state.tracked.length; i++) {
      const tr = state.tracked[i];
      const o = wrDeref(tr.ref);
      if (o === undefined) continue;
      push(alive, tr);
      if (wsHas(c.visited, o)) continue;
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
      wmSet(state.rec, o, enc(size, ds));
      push(c.measured, [o, -1, size, prev === undefined ? -1 : prev, tr.kind, ds, null]);
      c.trackedRemeasured++;
    }
    state.tracked = alive;
    // Rank: growth per second first, then size.
    const rows = [];
    for (let i = 0; i < c.measured.length; i++) {
      const m = c.measured[i];
      let growth = null, prevSize = -1, dt = 0;
      if (m[3] >= 0 && m[7] !== true) {
        prevSize = decSize(m[3]);
        dt = elapsedS(decDs(m[3]), m[5]);
        growth = dt > 0 ? (m[2] - prevSize) / dt : 0;
      }
      push(rows, { m, growth, prevSize, dt });
    }
    const byGrowth = sortArr(slice(rows, 0), (a, b) => (b.growth === null ? -Infinity : b.growth) - (a.growth === null ? -Infinity : a.growth));
    const bySize = sortArr(slice(rows, 0), (a, b) => b.m[2] - a.m[2]);
    const chosen = [];
    const taken = new WS();
    const take = (r) => { if (!wsHas(taken, r.m[0]) && chosen.length < c.o.maxHolders * 2) { wsAdd(taken, r.m[0]); push(chosen, r); } };
    for (let i = 0; i < byGrowth.length && i < c.o.maxHolders; i++) if (byGrowth[i].growth !== null && byGrowth[i].growth > 0) take(byGrowth[i]);
    for (let i = 0; i < bySize.length && chosen.length < c.o.maxHolders * 2 && i < c.o.maxHolders; i++) take(bySize[i]);
    const out = [];
    for (let i = 0; i < chosen.length; i++) {
      const r = chosen[i], m = r.m, o = m[0], kind = m[4];
      const s = samplesOf(o, kind, m[6]);
      const shapes = [], keyShapes = [];
      let bytes = 0, counted = 0, buffers = 0;
      for (let j = 0; j < s.values.length; j++) {
        const v = s.values[j];
        push(shapes, describe(v));
        if (isObj(v) && isBufferLike(v)) buffers++;
        try { bytes += deep(v, 2); counted++; } catch (e) {}
      }
      for (let j = 0; j < s.keys.length; j++) push(keyShapes, describe(s.keys[j]));
      const perElement = counted > 0 ? bytes / counted : 0;
      const kindName = kind === K_ARRAY && buffers > 0 && buffers === s.values.length ? 'BufferArray' : KIND_NAMES[kind];
      const p = m[1] >= 0 ? pathOf(c, m[1]) : null;
      push(out, {
        id: idOf(o), kind: kindName, size: m[2], previousSize: r.prevSize, intervalS: r.dt, growthPerSecond: r.growth,
        elementShape: uniq(shapes), keyShape: uniq(keyShapes), retainedBytes: floor(perElement * m[2] + tableBytes(kind, m[2])),
        sampled: counted, via: m[7] === true ? 'stale' : m[1] >= 0 ? 'walk' : 'tracked', root: p === null ? null : p.root, steps: p === null ? [] : p.steps,
      });
    }
    // Track every reported collection, then the biggest, through WeakRefs, bounded.
    const trOf = new WM();
    for (let i = 0; i < state.tracked.length; i++) { const o = wrDeref(state.tracked[i].ref); if (o !== undefined) wmSet(trOf, o, state.tracked[i]); }
    const next = [];
    const inNext = new WS();
    const consider = (m) => {
      const o = m[0];
      if (next.length >= c.o.maxTracked || wsHas(inNext, o)) return;
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
  state.finish = finish;
  state.page = page;
  state.end = end;
  Object.defineProperty(g, KEY, { value: state, configurable: true, enumerable: false, writable: false });
  return hello(true);
})()`

const checkedSlice = (ms: number): number => checkedInteger('sliceMs', ms, WALKER_LIMITS.sliceMs)

/** Start a search with checked integer options (JSON of integers only). */
export function beginExpression(options: WalkerBeginOptions): string {
  return `${WALKER_REF}.begin(${JSON.stringify(checkedBeginOptions(options))})`
}

/** Walk for about `sliceMs` milliseconds, then return to the event loop. */
export function stepExpression(sliceMs: number): string {
  return `${WALKER_REF}.step(${checkedSlice(sliceMs)})`
}

/** The next functions to open, returned by reference as [fn, metaJson, ...]. */
export function takeFunctionsExpression(count: number): string {
  return `${WALKER_REF}.takeFunctions(${checkedInteger('count', count, WALKER_LIMITS.takeFunctions)})`
}

/** Re-measure tracked collections, rank, and prepare the report. */
export const FINISH_EXPRESSION = `${WALKER_REF}.finish()`

/** One page of the prepared report, by value. */
export function pageExpression(offset: number, count: number): string {
  return `${WALKER_REF}.page(${checkedInteger('offset', offset, WALKER_LIMITS.pageOffset)}, ${checkedInteger('count', count, WALKER_LIMITS.pageCount)})`
}

/** Drop the search's state in the target (queue, visited set, path nodes). */
export const END_EXPRESSION = `(() => { const w = ${WALKER_REF}; return w === undefined ? { ok: true } : w.end(); })()`

/**
 * Called on the first scope list of a batch with the batch's metadata (by
 * value) and every scope list and bound-function part as further arguments.
 */
export const ADD_SCOPES_FUNCTION = `function (metas) {
  const w = ${WALKER_REF};
  if (w === undefined || w === null) return { ok: false };
  return w.addScopes(metas, arguments);
}`

/** The walker's sources with a one-line purpose, for the README's threat model. */
export const HOLDER_SNIPPETS: ReadonlyArray<{ name: string; purpose: string; source: string }> = [
  { name: 'INSTALL_HOLDER_WALKER', purpose: 'install, once per process, the holder walker (reads only data properties; never runs getters, proxy traps or GC)', source: INSTALL_HOLDER_WALKER },
  { name: 'HOLDER_BEGIN', purpose: 'start a holder search with integer caps', source: beginExpression({ maxVisits: 30000, maxNodes: 100000, maxFunctions: 300, sample: 64, bulkMin: 64, dictMin: 32, minSize: 16, perCode: 4, maxStepMs: 50, maxModules: 5000, maxTimers: 1000, maxTracked: 256, maxHolders: 25, watchdogMs: 30000 }) },
  { name: 'HOLDER_STEP', purpose: 'walk one slice of a few milliseconds', source: stepExpression(8) },
  { name: 'HOLDER_TAKE_FUNCTIONS', purpose: 'hand the sidecar the next functions whose [[Scopes]] it opens', source: takeFunctionsExpression(16) },
  { name: 'HOLDER_ADD_SCOPES', purpose: 'hand the walker the scope lists the sidecar opened (callFunctionOn)', source: ADD_SCOPES_FUNCTION },
  { name: 'HOLDER_FINISH', purpose: 're-measure tracked collections and rank', source: FINISH_EXPRESSION },
  { name: 'HOLDER_PAGE', purpose: 'read one page of the report', source: pageExpression(0, 20) },
  { name: 'HOLDER_END', purpose: 'drop the search state in the target', source: END_EXPRESSION },
]
