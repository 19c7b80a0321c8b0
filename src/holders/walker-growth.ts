/**
 * Part of the holder walker's in-target source (how a collection's members move between two
 * searches: turnover probes, and the anchors that tell a copy at the same path from a new one).
 * Fixed text only: see src/holders/walker.ts for the rules and how the parts
 * are joined into one function body. Not valid JavaScript on its own.
 */
export const WALKER_GROWTH_SOURCE = `
  // Turnover: of members sampled across a collection when it was last reported, how many have
  // left since. A collection whose members seldom leave cannot move much by churn, whatever its
  // size (see isGrowing). Objects are held through WeakRefs; primitives of Sets and Maps only when
  // small (a fresh copy); an Array's primitives not at all (equal values cannot be told apart).
  const PROBES = 64, PROBE_MIN_SIZE = 32, PROBE_MAX_SIZE = 4096, PROBE_MIN_OBJECTS = 16;
  const probeOf = (k, primitives) => {
    const t = typeof k;
    if (isObj(k)) return [true, new WR(k)];
    if (!primitives) return undefined;
    if (t === 'number' || t === 'boolean' || t === 'bigint' || k === null || k === undefined) return [false, k];
    if (t === 'string' && k.length <= 64) return [false, jsonParse(jsonStringify(k))];
    return undefined;
  };
  const takeProbes = (o, kind, size) => {
    const out = [];
    const stride = size / PROBES;
    try {
      if (kind === K_ARRAY) {
        for (let j = 0; j < PROBES; j++) {
          const p = probeOf(o[floor(j * stride)], false);
          if (p !== undefined) push(out, p);
        }
        return out.length >= PROBE_MIN_OBJECTS ? out : null;
      }
      let next = 0;
      const it = kind === K_SET ? setValues(o) : mapEntries(o);
      for (let i = 0; i < size && out.length < PROBES; i++) {
        const r = kind === K_SET ? setIterNext(it) : mapIterNext(it);
        if (r.done) break;
        if (i < next) continue;
        next += stride;
        const p = probeOf(kind === K_SET ? r.value : r.value[0], true);
        if (p !== undefined) push(out, p);
      }
    } catch (e) { return null; }
    return out.length > 0 ? out : null;
  };
  const turnoverOf = (o, kind, probes) => {
    let gone = 0;
    try {
      for (let i = 0; i < probes.length; i++) {
        const p = probes[i];
        const k = p[0] ? wrDeref(p[1]) : p[1];
        if (p[0] && k === undefined) gone++;
        else if (!(kind === K_SET ? setHas(o, k) : kind === K_MAP ? mapHas(o, k) : arrIndexOf(o, k) >= 0)) gone++;
      }
    } catch (e) { return null; }
    return [gone, probes.length];
  };

  // A collection found at a remembered path continues the one measured there only when it still
  // holds one of up to 4 of its members (an Array's first, middle and last; a Set's or a Map's
  // first four): a copy made by filtering that kept old members does, a fresh batch that
  // replaced a flushed one does not.
  const anchorsOf = (o, kind, size) => {
    const out = [];
    try {
      if (kind === K_ARRAY) {
        const at = [0, floor(size / 2), size - 1];
        for (let j = 0; j < at.length; j++) { const p = probeOf(o[at[j]], false); if (p !== undefined) push(out, p); }
      } else {
        const it = kind === K_SET ? setValues(o) : mapEntries(o);
        for (let j = 0; j < 4; j++) {
          const r = kind === K_SET ? setIterNext(it) : mapIterNext(it);
          if (r.done) break;
          const p = probeOf(kind === K_SET ? r.value : r.value[0], true);
          if (p !== undefined) push(out, p);
        }
      }
    } catch (e) {}
    return out;
  };
  const continues = (o, kind, size, anchors) => {
    if (kind === K_ARRAY && size > 200000) return false;
    try {
      for (let j = 0; j < anchors.length; j++) {
        const p = anchors[j];
        const k = p[0] ? wrDeref(p[1]) : p[1];
        if (p[0] && k === undefined) continue;
        if (kind === K_SET ? setHas(o, k) : kind === K_MAP ? mapHas(o, k) : arrIndexOf(o, k) >= 0) return true;
      }
    } catch (e) {}
    return false;
  };
`
