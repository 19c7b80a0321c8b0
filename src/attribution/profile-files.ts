/**
 * The files of a kept heap profile, as the API serves them: gzipped pprof and the Chrome
 * DevTools `.heapprofile`. Each is made once per profile and format and cached, so any number
 * of downloads cost one conversion; a conversion runs in slices of a few milliseconds
 * (slices.ts) and the gzip on libuv's thread pool, so `/metrics` and the probes answer while
 * it runs; and conversions run one at a time, so many targets' downloads at once do not add up
 * their working memory. The cache holds at most MAX_CACHED_BYTES of files, the least recently
 * served dropped first; it never holds a profile itself (a profile replaced by a newer one is
 * freed, and its files are dropped in turn).
 */
import { promisify } from 'node:util'
import { gzip } from 'node:zlib'
import { heapProfileSteps, pprofSteps } from './pprof.js'
import type { ProfileFetch } from './profiler.js'
import { runInSlices } from './slices.js'

export type ProfileFormat = 'pprof' | 'heapprofile'

/** Bytes of files kept: four of the largest .heapprofile a kept profile makes (16 MiB). */
export const MAX_CACHED_BYTES = 64 * 1024 * 1024

const gzipAsync = promisify(gzip)

interface Entry {
  readonly file: Promise<Buffer>
  /** Set once the file is made. */
  bytes: number | undefined
}

export class ProfileFiles {
  private readonly ids = new WeakMap<ProfileFetch, number>()
  private nextId = 0
  /** By `id:format`, least recently served first. */
  private readonly entries = new Map<string, Entry>()
  private cachedBytes = 0
  private queue: Promise<unknown> = Promise.resolve()
  /** Conversions started (for tests and the soak). */
  conversions = 0

  constructor(
    private readonly samplingIntervalBytes: number,
    private readonly maxCachedBytes = MAX_CACHED_BYTES,
  ) {}

  /** The file of `fetch` in `format`: pprof gzipped, .heapprofile as JSON bytes. */
  get(fetch: ProfileFetch, format: ProfileFormat): Promise<Buffer> {
    let id = this.ids.get(fetch)
    if (id === undefined) {
      id = this.nextId++
      this.ids.set(fetch, id)
    }
    const key = `${id}:${format}`
    const cached = this.entries.get(key)
    if (cached !== undefined) {
      this.entries.delete(key)
      this.entries.set(key, cached)
      return cached.file
    }
    const file = this.enqueue(() => this.convert(fetch, format))
    const entry: Entry = { file, bytes: undefined }
    this.entries.set(key, entry)
    file.then(
      (bytes) => {
        if (this.entries.get(key) !== entry) return
        entry.bytes = bytes.length
        this.cachedBytes += bytes.length
        this.evict(key)
      },
      () => {
        if (this.entries.get(key) === entry) this.entries.delete(key)
      },
    )
    return file
  }

  /** Bytes of the files held. */
  get heldBytes(): number {
    return this.cachedBytes
  }

  private enqueue(task: () => Promise<Buffer>): Promise<Buffer> {
    const run = this.queue.then(task, task)
    this.queue = run.catch(() => undefined)
    return run
  }

  private async convert(fetch: ProfileFetch, format: ProfileFormat): Promise<Buffer> {
    this.conversions += 1
    if (format === 'heapprofile') return runInSlices(heapProfileSteps(fetch.profile))
    const encoded = await runInSlices(pprofSteps(fetch.profile, { timeMs: fetch.timeMs, samplingIntervalBytes: this.samplingIntervalBytes }))
    return gzipAsync(encoded)
  }

  /** Drop the least recently served files (never `keep`, just made) until within the budget. */
  private evict(keep: string): void {
    for (const [key, entry] of this.entries) {
      if (this.cachedBytes <= this.maxCachedBytes) return
      if (key === keep || entry.bytes === undefined) continue
      this.entries.delete(key)
      this.cachedBytes -= entry.bytes
    }
  }
}
