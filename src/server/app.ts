/**
 * The HTTP face of the sidecar: `/metrics`, health and readiness, and the JSON
 * API. `buildApp` returns an app that is not yet listening, so tests use
 * `app.inject()` and the CLI decides where to listen. Access control, response
 * headers and error bodies: ./security.ts.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyServerOptions } from 'fastify'
import type { Registry } from 'prom-client'
import { ProfileFiles } from '../attribution/profile-files.js'
import type { HttpConfig } from '../config/types.js'
import type { TargetAnalysis } from '../leak/target-analysis.js'
import type { TargetMonitor } from '../monitor/monitor.js'
import { frameworkErrors, registerSecurity } from './security.js'

export interface TargetEntry {
  readonly monitor: TargetMonitor
  readonly analysis: TargetAnalysis
}

export interface TargetDirectory {
  list(): TargetEntry[]
  get(name: string): TargetEntry | undefined
}

/** Sampling interval recorded in pprof files when the profile does not say (it never does). */
export interface ProfileSettings {
  readonly samplingIntervalBytes: number
}

/** Longest path parameter (a target name, percent-encoded) the router accepts; longer ones get 414. */
export const MAX_PARAM_LENGTH = 256

const targetParams = {
  type: 'object',
  properties: { target: { type: 'string', minLength: 1, maxLength: MAX_PARAM_LENGTH } },
  required: ['target'],
} as const

/** For routes that take no query parameters: any given is a 400, not silently ignored. */
const noQuery = { type: 'object', properties: {}, additionalProperties: false } as const

const notFound = (reply: FastifyReply, name: string): FastifyReply =>
  reply.code(404).send({ error: 'not_found', message: `no target named ${JSON.stringify(name)}` })

/** A file name from a target name: nothing that could steer a download elsewhere. */
const fileSafe = (text: string): string => text.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 100)

export interface AppOptions {
  readonly registry: Registry
  readonly targets: TargetDirectory
  /** Readiness beyond "the config loaded and HTTP is up" (e.g. false while shutting down). */
  readonly ready?: () => boolean
  readonly logger?: FastifyServerOptions['logger']
  readonly version: string
  readonly profiles?: ProfileSettings
  /** The profile files served (made once per profile and format); tests pass their own to look at it. */
  readonly profileFiles?: ProfileFiles
  /**
   * Who may read what (`Config.http`): with an `apiToken`, `/api/*`, `/` and
   * unknown paths need `Authorization: Bearer <token>`; `/metrics` and the
   * probes too with `protectMetrics` / `protectHealth`. Undefined: all open.
   */
  readonly http?: HttpConfig
}

export function buildApp(options: AppOptions): FastifyInstance {
  const app = Fastify({
    logger: options.logger ?? false,
    // Requests carry no bodies; refuse large ones and slow clients early.
    bodyLimit: 16 * 1024,
    requestTimeout: 10_000,
    connectionTimeout: 10_000,
    return503OnClosing: true,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // Unknown query parameters are errors (fastify's default Ajv drops them silently).
    ajv: { customOptions: { removeAdditional: false } },
    frameworkErrors,
  })
  registerSecurity(app, options.http)
  // Made once per profile and format, in slices, off the event loop's critical path.
  const profileFiles = options.profileFiles ?? new ProfileFiles(options.profiles?.samplingIntervalBytes ?? 512 * 1024)

  app.get('/metrics', async (_request, reply) => {
    const body = await options.registry.metrics()
    return reply.type(options.registry.contentType).send(body)
  })

  app.get('/healthz', async () => ({ status: 'ok' }))

  app.get('/readyz', async (_request, reply) => {
    const ready = options.ready?.() ?? true
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready' })
  })

  app.get('/api/targets', { schema: { querystring: noQuery } }, async () => ({ targets: options.targets.list().map((entry) => entry.monitor.status()) }))

  app.get<{ Params: { target: string } }>('/api/targets/:target', { schema: { params: targetParams, querystring: noQuery } }, async (request, reply) => {
    const entry = options.targets.get(request.params.target)
    if (entry === undefined) return notFound(reply, request.params.target)
    return { ...entry.monitor.status(), analysis: entry.analysis.view() }
  })

  app.get<{ Params: { target: string }; Querystring: { limit: number } }>(
    '/api/targets/:target/sites',
    {
      schema: {
        params: targetParams,
        querystring: {
          type: 'object',
          properties: { limit: { type: 'integer', minimum: 1, maximum: 1000, default: 20 } },
          additionalProperties: false,
        },
      },
    },
    async (request, reply) => {
      const entry = options.targets.get(request.params.target)
      if (entry === undefined) return notFound(reply, request.params.target)
      const latest = entry.analysis.latestProfile()
      return {
        target: entry.monitor.name,
        profiledAt: latest === undefined ? null : new Date(latest.timeMs).toISOString(),
        sites: entry.analysis.sites().slice(0, request.query.limit),
      }
    },
  )

  app.get<{ Params: { target: string }; Querystring: { format: 'heapprofile' | 'pprof' } }>(
    '/api/targets/:target/profile',
    {
      schema: {
        params: targetParams,
        querystring: {
          type: 'object',
          properties: { format: { type: 'string', enum: ['heapprofile', 'pprof'], default: 'heapprofile' } },
          additionalProperties: false,
        },
      },
    },
    async (request, reply) => {
      const entry = options.targets.get(request.params.target)
      if (entry === undefined) return notFound(reply, request.params.target)
      const latest = entry.analysis.latestProfile()
      if (latest === undefined) {
        return reply.code(404).send({
          error: 'no_profile',
          message: 'no heap profile has been fetched from this target yet (see attribution mode and budget)',
        })
      }
      const stamp = new Date(latest.timeMs).toISOString().replace(/[:.]/g, '-')
      const base = `${fileSafe(entry.monitor.name)}-${stamp}`
      const file = await profileFiles.get(latest, request.query.format)
      if (request.query.format === 'pprof') {
        return reply.type('application/octet-stream').header('content-disposition', `attachment; filename="${base}.pb.gz"`).send(file)
      }
      return reply.type('application/json').header('content-disposition', `attachment; filename="${base}.heapprofile"`).send(file)
    },
  )

  app.get<{ Params: { target: string } }>('/api/targets/:target/holders', { schema: { params: targetParams, querystring: noQuery } }, async (request, reply) => {
    const entry = options.targets.get(request.params.target)
    if (entry === undefined) return notFound(reply, request.params.target)
    return { target: entry.monitor.name, ...entry.analysis.holdersView() }
  })

  // A search costs the target (within the budget and the headroom guard): only with a token.
  app.post<{ Params: { target: string } }>('/api/targets/:target/holders', { schema: { params: targetParams, querystring: noQuery } }, async (request, reply) => {
    if (options.http?.apiToken === undefined) {
      return reply.code(403).send({
        error: 'forbidden',
        message: 'holder searches on request need an API token (--api-token-file): the API is open without one',
      })
    }
    const entry = options.targets.get(request.params.target)
    if (entry === undefined) return notFound(reply, request.params.target)
    const outcome = entry.analysis.requestHolderSearch()
    if (outcome === 'off') return reply.code(409).send({ error: 'holders_off', message: 'the holder search is off (--holders off)' })
    return reply.code(202).send({
      target: entry.monitor.name,
      status: outcome,
      message:
        outcome === 'running'
          ? 'a holder search is running; GET this URL for its result'
          : 'a holder search starts at the next poll (budget permitting) and a second one measures growth; GET this URL for the result',
    })
  })

  app.get('/', { schema: { querystring: noQuery } }, async () => ({
    name: 'leakwatch',
    version: options.version,
    endpoints: [
      '/metrics',
      '/healthz',
      '/readyz',
      '/api/targets',
      '/api/targets/:target',
      '/api/targets/:target/sites',
      '/api/targets/:target/profile?format=heapprofile|pprof',
      '/api/targets/:target/holders',
      'POST /api/targets/:target/holders',
    ],
  }))

  app.setNotFoundHandler(async (request, reply) => {
    const url = request.url.length > 200 ? `${request.url.slice(0, 200)}…` : request.url
    return reply.code(404).send({ error: 'not_found', message: `no route ${request.method} ${url}` })
  })

  return app
}
