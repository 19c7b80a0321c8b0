// A real Prometheus (Debian's package) for end-to-end tests: started on 127.0.0.1 with a
// scrape every second, a storage in the test's own directory, queried through its HTTP API,
// and stopped (only that process) on the test's teardown.
import { spawn, spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import type { Test } from 'tap'
import { freePort, waitFor } from './targets.js'

/** Path of the prometheus binary, or '' when it is not installed. */
export const prometheusBinary: string = spawnSync('sh', ['-c', 'command -v prometheus'], { encoding: 'utf8' }).stdout.trim()

export interface PrometheusOptions {
  /** host:port of each endpoint scraped under job `leakwatch`. */
  readonly scrape: readonly string[]
  /** Text of a rules file to load, evaluated every second. */
  readonly rules?: string
}

export interface RunningPrometheus {
  /** …/api/v1 */
  readonly api: string
  /** The `data` of a GET on the API (path with its query string). */
  get(path: string): Promise<unknown>
  /** Everything Prometheus logged lately, for failure messages. */
  log(): string
}

export async function startPrometheus(t: Pick<Test, 'teardown' | 'testdir'>, options: PrometheusOptions): Promise<RunningPrometheus> {
  const dir = t.testdir({})
  const config = ['global:', '  scrape_interval: 1s', '  evaluation_interval: 1s']
  if (options.rules !== undefined) {
    writeFileSync(`${dir}/rules.yaml`, options.rules)
    config.push('rule_files:', `  - ${dir}/rules.yaml`)
  }
  config.push('scrape_configs:', '  - job_name: leakwatch', '    static_configs:', `      - targets: [${options.scrape.map((target) => `'${target}'`).join(', ')}]`, '')
  writeFileSync(`${dir}/prometheus.yml`, config.join('\n'))
  const port = await freePort()
  const prometheus = spawn(
    prometheusBinary,
    [`--config.file=${dir}/prometheus.yml`, `--storage.tsdb.path=${dir}/data`, `--web.listen-address=127.0.0.1:${port}`],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  )
  let log = ''
  prometheus.stderr.on('data', (chunk: Buffer) => (log = (log + chunk.toString()).slice(-4000)))
  const exited = new Promise((resolve) => prometheus.on('exit', resolve))
  t.teardown(async () => {
    prometheus.kill('SIGTERM')
    const timer = setTimeout(() => prometheus.kill('SIGKILL'), 5000)
    await exited
    clearTimeout(timer)
  })
  const api = `http://127.0.0.1:${port}/api/v1`
  const get = async (path: string): Promise<unknown> => {
    const response = await fetch(`${api}${path}`)
    const body = (await response.json()) as { status: string; data: unknown; error?: string }
    if (body.status !== 'success') throw new Error(`${path}: ${body.error ?? body.status}`)
    return body.data
  }
  await waitFor(
    async () => {
      try {
        const targets = (await get('/targets')) as { activeTargets: Array<{ health: string }> }
        return targets.activeTargets.length === options.scrape.length && targets.activeTargets.every((target) => target.health === 'up')
      } catch {
        return false
      }
    },
    { timeoutMs: 30_000, what: `Prometheus scraping ${options.scrape.join(', ')} (log: ${log})` },
  )
  return { api, get, log: () => log }
}
