/**
 * The HTTP server's defences: bearer-token access control, response headers
 * for a JSON API, and small JSON answers for the errors fastify's router
 * raises before any hook runs (bad percent-encoding, overlong parameters).
 *
 * Access is decided by the route that matched, never by the raw URL, so no
 * spelling of a path (`//metrics`, `/METRICS`, `/metrics/`, percent-encoding)
 * reaches a protected handler unchecked: anything that is not exactly one of
 * the open routes counts as API, including unknown paths.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { STATUS_CODES } from 'node:http'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify'
import type { HttpConfig } from '../config/types.js'
import { HttpConfigError } from '../core/errors.js'

/** Sent with every response. There is no HTML: nothing may be framed, run, sniffed or cached. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
})

export const AUTH_REALM = 'leakwatch'

/** Which token rule applies to a route. */
export type RouteClass = 'metrics' | 'health' | 'api'

const OPEN_ROUTES: Readonly<Record<string, RouteClass>> = Object.freeze({
  '/metrics': 'metrics',
  '/healthz': 'health',
  '/readyz': 'health',
})

/** The class of a matched route pattern (undefined: no route matched, i.e. the 404 handler). */
export function routeClass(routeUrl: string | undefined): RouteClass {
  return (routeUrl !== undefined && Object.hasOwn(OPEN_ROUTES, routeUrl) ? OPEN_ROUTES[routeUrl] : undefined) ?? 'api'
}

const sha256 = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest()

/**
 * Compares a presented token with the expected one in constant time. Both are
 * hashed first, so the comparison always covers 32 bytes and neither the
 * length of the token nor the position of the first difference shows in the timing.
 */
export function tokenMatches(presented: string, expectedDigest: Buffer): boolean {
  return timingSafeEqual(sha256(presented), expectedDigest)
}

/** `Bearer <token>` (scheme case-insensitive, RFC 6750 §2.1); undefined for anything else. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined
  const match = /^bearer +([\x21-\x7e]+) *$/i.exec(header)
  return match?.[1]
}

/** Keeps error messages short: they may quote a header or a path. */
const clip = (text: string, max = 200): string => (text.length > max ? `${text.slice(0, max)}…` : text)

/**
 * The `error` names of the API's JSON error bodies that are not simply the HTTP status
 * (those are named after it: `bad_request`, `uri_too_long`, `payload_too_large`, …).
 */
export const API_ERRORS: Readonly<Record<string, { status: number; meaning: string }>> = {
  unauthorized: { status: 401, meaning: 'The endpoint needs the API token: send "Authorization: Bearer <token>".' },
  not_found: { status: 404, meaning: 'No such route, or no target of that name (GET /api/targets lists them).' },
  no_profile: { status: 404, meaning: 'No heap profile has been read from the target yet (see the attribution mode and budget).' },
  forbidden: { status: 403, meaning: 'Holder searches on request (POST /api/targets/NAME/holders) need an API token: without one the API is open to anyone who reaches it.' },
  holders_off: { status: 409, meaning: 'The holder search is off (--holders off): nothing can be searched on request.' },
}

/** `Payload Too Large` → `payload_too_large`. */
const errorName = (status: number): string => (STATUS_CODES[status] ?? 'error').toLowerCase().replace(/[^a-z0-9]+/g, '_')

/**
 * Adds the access check and the response headers to `app`. Without a token
 * every route is open; with one, `/api/*`, `/` and unknown paths need it, and
 * `/metrics` and the probes too when `protectMetrics` / `protectHealth` say so.
 * @throws HttpConfigError when protection is asked for without a token (that would protect nothing).
 */
export function registerSecurity(app: FastifyInstance, http: HttpConfig | undefined): void {
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.headers(SECURITY_HEADERS)
    return payload
  })

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status = typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500
    if (status >= 500) {
      request.log.error({ err: error }, 'request failed')
      return reply.code(status).send({ error: errorName(status), message: 'internal error (see the sidecar log)' })
    }
    return reply.code(status).send({ error: errorName(status), message: clip(error.message) })
  })

  if (http?.apiToken === undefined) {
    if (http?.protectMetrics || http?.protectHealth) {
      throw new HttpConfigError('http.protectMetrics / http.protectHealth need http.apiToken: without a token nothing is protected')
    }
    return
  }
  if (http.apiToken.length === 0) throw new HttpConfigError('http.apiToken must not be empty')
  const expected = sha256(http.apiToken)
  const protectedClass: Record<RouteClass, boolean> = { api: true, metrics: http.protectMetrics, health: http.protectHealth }

  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    if (!protectedClass[routeClass(request.routeOptions.url)]) return
    const header = request.headers.authorization
    const presented = bearerToken(header)
    // Always hash and compare, also without a token, so a missing header takes the same time.
    const ok = tokenMatches(presented ?? '', expected) && presented !== undefined
    if (ok) return
    const invalid = header !== undefined
    request.log.info({ reason: invalid ? 'invalid token' : 'no token' }, 'unauthorized request')
    return reply
      .code(401)
      .header('www-authenticate', invalid ? `Bearer realm="${AUTH_REALM}", error="invalid_token"` : `Bearer realm="${AUTH_REALM}"`)
      .send({
        error: 'unauthorized',
        message: invalid
          ? 'the bearer token is missing from the Authorization header or does not match'
          : 'this endpoint needs an API token: send "Authorization: Bearer <token>"',
      })
  })
}

/**
 * fastify's `frameworkErrors`: the router refuses a URL before any hook runs
 * (a bad percent-encoding: 400; a path parameter longer than maxParamLength: 414).
 * Answer like every other error, with the security headers and without echoing the URL.
 */
export const frameworkErrors: NonNullable<FastifyServerOptions['frameworkErrors']> = (error, _request, reply) => {
  const status = typeof error.statusCode === 'number' ? error.statusCode : 400
  const message =
    error.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? 'a path parameter is too long'
      : error.code === 'FST_ERR_BAD_URL'
        ? 'the URL is not valid (bad percent-encoding)'
        : clip(error.message)
  // The option's type is generic over the route; this handler is the same for every route.
  void (reply as unknown as FastifyReply).code(status).headers(SECURITY_HEADERS).send({ error: errorName(status), message })
}
