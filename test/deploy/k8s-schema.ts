/**
 * Offline validation of Kubernetes objects against the Kubernetes OpenAPI schema, as shipped by
 * the npm packages kubernetes-models (core and apps/batch/... API groups, generated from the
 * Kubernetes OpenAPI spec) and @kubernetes-models/prometheus-operator (PodMonitor,
 * PrometheusRule, from the operator's CRDs). Two checks per object:
 *
 * 1. the package's JSON-schema validator (ajv, compiled from the OpenAPI spec): types, enums,
 *    required fields, formats;
 * 2. unknown fields, which those schemas do not reject (they have no additionalProperties:
 *    false, unlike `kubectl --validate=strict` or kubeconform -strict): each object is written as
 *    an object literal typed with the package's TypeScript interface for its kind, and the
 *    TypeScript compiler's excess-property check reports every field the API does not have, at
 *    any depth (a typo such as `restartPolcy`, or `restartPolicy` where the API has none).
 *
 * A kind with no model in those packages is a problem too: nothing passes unchecked.
 */
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

interface K8sObject {
  readonly apiVersion?: unknown
  readonly kind?: unknown
  readonly metadata?: { readonly name?: unknown }
}

/** The module holding the model of an apiVersion/kind. */
function modelModule(apiVersion: string, kind: string): string {
  if (apiVersion.startsWith('monitoring.coreos.com/')) return `@kubernetes-models/prometheus-operator/${apiVersion}/${kind}`
  return `kubernetes-models/${apiVersion}/${kind}`
}

function labelOf(object: K8sObject, index: number): string {
  return `#${index + 1} ${String(object.kind)} ${String(object.metadata?.name ?? '(no name)')}`
}

/** null means "not set" to the API server; TypeScript's optional fields do not take it. */
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls)
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== null)
        .map(([k, v]) => [k, withoutNulls(v)]),
    )
  }
  return value
}

interface Model {
  validate(): void
}
type ModelClass = new (data: unknown) => Model

/** ajv validation through the model class. */
async function schemaErrors(object: K8sObject, index: number): Promise<string[]> {
  const label = labelOf(object, index)
  if (typeof object.apiVersion !== 'string' || typeof object.kind !== 'string') return [`${label}: no apiVersion/kind`]
  let Class: ModelClass | undefined
  try {
    const module = (await import(modelModule(object.apiVersion, object.kind))) as Record<string, ModelClass>
    Class = module[object.kind]
  } catch {
    Class = undefined
  }
  if (Class === undefined) return [`${label}: no schema for ${object.apiVersion} ${object.kind} in kubernetes-models`]
  try {
    new Class(object).validate()
    return []
  } catch (error) {
    const details = (error as { errors?: Array<{ instancePath: string; message?: string; params?: unknown }> }).errors
    if (details === undefined) return [`${label}: ${(error as Error).message}`]
    return details.map((e) => `${label}: ${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params ?? {})}`)
  }
}

/** TypeScript's excess-property check against the model interfaces: unknown fields at any depth. */
function unknownFieldErrors(objects: readonly K8sObject[]): string[] {
  const fileName = join(ROOT, `.k8s-schema-check-${process.pid}.ts`)
  const lines: string[] = []
  const lineOf: number[] = []
  objects.forEach((object, index) => {
    if (typeof object.apiVersion !== 'string' || typeof object.kind !== 'string') return
    lines.push(`import type { I${object.kind} as T${index} } from '${modelModule(object.apiVersion, object.kind)}'`)
  })
  const header = lines.length
  objects.forEach((object, index) => {
    if (typeof object.apiVersion !== 'string' || typeof object.kind !== 'string') return
    lineOf[lines.length] = index
    lines.push(`export const o${index}: T${index} = ${JSON.stringify(withoutNulls(object))}`)
  })
  if (lines.length === header) return []
  const source = lines.join('\n')
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    types: [],
  }
  const host = ts.createCompilerHost(options)
  const getSourceFile = host.getSourceFile.bind(host)
  host.getSourceFile = (name, language, onError, create) =>
    name === fileName ? ts.createSourceFile(name, source, language) : getSourceFile(name, language, onError, create)
  const fileExists = host.fileExists.bind(host)
  host.fileExists = (name) => name === fileName || fileExists(name)
  const program = ts.createProgram([fileName], options, host)
  const file = program.getSourceFile(fileName)
  return ts.getPreEmitDiagnostics(program, file).map((diagnostic) => {
    const text = ts.flattenDiagnosticMessageText(diagnostic.messageText, ' ')
    if (diagnostic.start === undefined || file === undefined) return text
    const { line } = file.getLineAndCharacterOfPosition(diagnostic.start)
    const index = lineOf[line]
    return index === undefined ? text : `${labelOf(objects[index]!, index)}: ${text}`
  })
}

/** Every problem found in `objects`; empty when all are valid Kubernetes objects. */
export async function k8sSchemaProblems(objects: readonly unknown[]): Promise<string[]> {
  const list = objects as readonly K8sObject[]
  const problems: string[] = []
  for (const [index, object] of list.entries()) problems.push(...(await schemaErrors(object, index)))
  problems.push(...unknownFieldErrors(list))
  return problems
}
