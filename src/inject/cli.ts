/**
 * `leakwatch inject [options] FILE|-`: the command-line face of ./inject.ts. Reads a file or
 * standard input, writes the result to standard output, notes and refusals to standard error.
 *
 * Exit codes: 0 written (possibly unchanged), 1 an object was refused (nothing written),
 * 2 usage error (bad flag, unreadable file, input that is not YAML or JSON).
 */
import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { InjectInputError, injectText, type InjectOptions, POD_SPEC_PATHS } from './inject.js'
import { DEFAULT_IMAGE, SIDECAR_DEFAULTS } from './sidecar.js'

export interface InjectIo {
  readonly stdin: NodeJS.ReadableStream
  readonly stdout: (text: string) => void
  readonly stderr: (text: string) => void
}

export const INJECT_HELP = `Usage: leakwatch inject [options] FILE
       kubectl get deploy api -o yaml | leakwatch inject - | kubectl apply -f -

Adds leakwatch as a native sidecar (an initContainers entry with restartPolicy:
Always; Kubernetes >= 1.29) to every pod template in FILE (- for standard
input), and NODE_OPTIONS=--inspect=127.0.0.1:PORT to the container(s) it
watches. Writes the result to standard output; notes, warnings and refusals go
to standard error.

Input: YAML (several documents; kind: List as kubectl get -o yaml prints it) or
JSON. Handled: ${Object.keys(POD_SPEC_PATHS).join(', ')}
(ReplicaSet, Pod: prefer their controller). Other objects pass through
unchanged. Unrelated fields and comments are kept; a document that needs no
change is written back exactly as it was, so running inject on its own output
changes nothing.

Options:
  --container NAME        Container to watch; repeat for several (each gets its
                          own inspector port and a target named after it).
                          Default: the only container; refused when there are
                          several and none is named (a re-run reuses the targets
                          of the existing leakwatch sidecar).
  --port PORT             Inspector port of the first watched container; the
                          next ones get the next free ports (default ${SIDECAR_DEFAULTS.firstInspectorPort})
  --listen-port PORT      leakwatch's metrics/API port, container port "metrics"
                          (default ${SIDECAR_DEFAULTS.listenPort})
  --image IMAGE           leakwatch image
                          (default ${DEFAULT_IMAGE})
  --memory-limit-from NAME
                          Container whose limits.memory reaches leakwatch as
                          LEAKWATCH_MEMORY_LIMIT (downward API), or "none".
                          Default: the watched container when there is one;
                          left out when several are watched; kept as it is in
                          an existing sidecar.
  -h, --help              Show this help and exit

NODE_OPTIONS: --inspect=127.0.0.1:PORT is appended to a plain value. Refused,
with the reason: NODE_OPTIONS from valueFrom (inject cannot edit it), an
inspector flag on another port or address, --inspect-brk or --inspect-wait, a
pod with hostNetwork: true (127.0.0.1 would be the node's loopback). Any refusal
writes nothing and exits 1, so a pipe into kubectl apply applies nothing.

Warning: when the app starts through npm, yarn or pnpm (npm start), the package
manager itself binds the inspector port and the app cannot: run node directly.

The sidecar is the one the Helm chart renders: LEAKWATCH_TARGETS (one
NAME=127.0.0.1:PORT per watched container), LEAKWATCH_LISTEN, probes on
/healthz and /readyz, ${SIDECAR_DEFAULTS.resources.requests.cpu}/${SIDECAR_DEFAULTS.resources.requests.memory} requests and a ${SIDECAR_DEFAULTS.resources.limits.memory} memory limit, non-root,
read-only root filesystem, no capabilities. An existing leakwatch init container
is updated in place (its targets; the image, listen port and memory limit source
only when those flags are given), keeping your other changes to it.

Exit codes: 0 done, 1 an object was refused (nothing written), 2 usage error.
Details: docs/kubernetes.md.
`

function parsePort(flag: string, text: string | undefined): number | string | undefined {
  if (text === undefined) return undefined
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 65535) return `${flag} ${JSON.stringify(text)}: must be a port number, 1..65535`
  return Number(text)
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer))
  return Buffer.concat(chunks).toString('utf8')
}

/** Run `leakwatch inject` with the arguments after "inject". Resolves with the exit code. */
export async function runInject(argv: string[], io: InjectIo): Promise<number> {
  const usage = (message: string): number => {
    io.stderr(`leakwatch inject: ${message}\nRun leakwatch inject --help for usage.\n`)
    return 2
  }
  let parsed: ReturnType<typeof parse>
  const parse = (args: string[]) =>
    parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        container: { type: 'string', multiple: true },
        port: { type: 'string' },
        'listen-port': { type: 'string' },
        image: { type: 'string' },
        'memory-limit-from': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    })
  try {
    parsed = parse(argv)
  } catch (error) {
    return usage((error as Error).message)
  }
  const { values, positionals } = parsed
  if (values.help === true) {
    io.stdout(INJECT_HELP)
    return 0
  }
  if (positionals.length !== 1) return usage(positionals.length === 0 ? 'name a FILE, or - for standard input' : `one FILE only, got ${positionals.join(' ')}`)
  const problems: string[] = []
  const firstPort = parsePort('--port', values.port)
  const listenPort = parsePort('--listen-port', values['listen-port'])
  for (const port of [firstPort, listenPort]) if (typeof port === 'string') problems.push(port)
  const containers = values.container ?? []
  for (const name of containers) {
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name) || name.length > 63) problems.push(`--container ${JSON.stringify(name)}: not a container name (a DNS label)`)
  }
  const memoryLimitFrom = values['memory-limit-from']
  if (memoryLimitFrom !== undefined && memoryLimitFrom !== 'none' && !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(memoryLimitFrom)) {
    problems.push(`--memory-limit-from ${JSON.stringify(memoryLimitFrom)}: a container name, or none`)
  }
  if (values.image !== undefined && (values.image === '' || /\s/.test(values.image))) problems.push(`--image ${JSON.stringify(values.image)}: not an image reference`)
  if (problems.length > 0) return usage(problems.join('\n  '))

  const file = positionals[0]!
  let text: string
  try {
    text = file === '-' ? await readAll(io.stdin) : await readFile(file, 'utf8')
  } catch (error) {
    return usage(`cannot read ${file === '-' ? 'standard input' : file}: ${(error as Error).message}`)
  }
  const options: InjectOptions = {
    containers,
    image: values.image,
    firstPort: typeof firstPort === 'number' ? firstPort : undefined,
    listenPort: typeof listenPort === 'number' ? listenPort : undefined,
    memoryLimitFrom,
  }
  let result: ReturnType<typeof injectText>
  try {
    result = injectText(text, options)
  } catch (error) {
    if (error instanceof InjectInputError) return usage(`${file === '-' ? 'standard input' : file}: ${error.message}`)
    throw error
  }
  for (const note of result.notes) io.stderr(`leakwatch inject: ${note}\n`)
  for (const warning of result.warnings) io.stderr(`leakwatch inject: warning: ${warning}\n`)
  if (result.errors.length > 0) {
    for (const error of result.errors) io.stderr(`leakwatch inject: refused: ${error}\n`)
    io.stderr(`leakwatch inject: nothing written (${result.errors.length} refused)\n`)
    return 1
  }
  io.stdout(result.output)
  return 0
}
