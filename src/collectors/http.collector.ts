import { z } from 'zod'
import type { Collector } from './types.js'
import { checkReply } from './reply.js'

const HttpReply = z.object({
  /** Requests the target's HTTP servers began since the agent was installed (`http.server.request.start`). */
  started: z.number().int().nonnegative(),
})

/**
 * In the target: one subscriber to Node's `http.server.request.start` diagnostics channel
 * (every `http` and `https` server of the process, frameworks included; not HTTP/2), counting.
 * It keeps nothing of the request: a counter and the function that increments it, a call per
 * request. A process that serves no HTTP reads 0 forever.
 */
const SETUP = `(env) => {
  const dc = env.builtin('diagnostics_channel');
  if (!dc || typeof dc.subscribe !== 'function') return { started: 0, unavailable: 'diagnostics_channel.subscribe needs Node >= 16.17 / 18.7' };
  const state = { started: 0, unavailable: null };
  dc.subscribe('http.server.request.start', () => { state.started += 1; });
  return state;
}`

/** The target's incoming HTTP requests: a signal of traffic that the target's own memory cannot drive. */
const http: Collector = {
  name: 'http',
  description: 'HTTP requests served (diagnostics_channel http.server.request.start)',
  order: 65,
  metrics: [
    {
      key: 'httpServerRequests',
      prom: 'nodejs_http_server_requests_total',
      otel: 'leakwatch.http.server.requests',
      help: 'HTTP requests the target began serving (http and https servers, through the http.server.request.start diagnostics channel) since leakwatch\'s agent was installed in it.',
      unit: '{request}',
      type: 'counter',
      labels: [],
      collector: 'http',
    },
  ],
  part: {
    setup: SETUP,
    read: `(state) => state.unavailable ? { unavailable: state.unavailable } : { started: state.started }`,
  },
  parse(raw) {
    const { started } = checkReply('http.server.request.start', HttpReply, raw)
    return { samples: [{ key: 'httpServerRequests', value: started }], state: undefined }
  },
}

export default http
