/**
 * The HTTP face of the sidecar: `/metrics`, health and readiness, and the JSON
 * API. `buildApp` returns an app that is not yet listening, so tests use
 * `app.inject()` and the CLI decides where to listen.
 */
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { Registry } from 'prom-client'
import type { TargetStatus } from '../target/monitor.js'

export interface TargetDirectory {
  statuses(): TargetStatus[]
  status(name: string): TargetStatus | undefined
}

export interface AppOptions {
  readonly registry: Registry
  readonly targets: TargetDirectory
  /** Readiness beyond "the config loaded and HTTP is up" (e.g. false while shutting down). */
  readonly ready?: () => boolean
  readonly logger?: FastifyServerOptions['logger']
  readonly version: string
}

export function buildApp(options: AppOptions): FastifyInstance {
  const app = Fastify({
    logger: options.logger ?? false,
    // Requests carry no bodies; refuse large ones and slow clients early.
    bodyLimit: 16 * 1024,
    requestTimeout: 10_000,
    connectionTimeout: 10_000,
    return503OnClosing: true,
  })

  app.get('/metrics', async (_request, reply) => {
    const body = await options.registry.metrics()
    return reply.type(options.registry.contentType).send(body)
  })

  app.get('/healthz', async () => ({ status: 'ok' }))

  app.get('/readyz', async (_request, reply) => {
    const ready = options.ready?.() ?? true
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready' })
  })

  app.get('/api/targets', async () => ({ targets: options.targets.statuses() }))

  app.get<{ Params: { target: string } }>('/api/targets/:target', async (request, reply) => {
    const status = options.targets.status(request.params.target)
    if (status === undefined) {
      return reply.code(404).send({ error: 'not_found', message: `no target named ${JSON.stringify(request.params.target)}` })
    }
    return status
  })

  app.get('/', async () => ({
    name: 'leakwatch',
    version: options.version,
    endpoints: ['/metrics', '/healthz', '/readyz', '/api/targets', '/api/targets/:target'],
  }))

  app.setNotFoundHandler(async (request, reply) =>
    reply.code(404).send({ error: 'not_found', message: `no route ${request.method} ${request.url}` }),
  )

  return app
}
