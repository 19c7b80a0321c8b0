/**
 * Hosts, ports and targets as users write them: `HOST:PORT` (IPv6 in
 * brackets), `[NAME=]HOST:PORT`, and the loopback rule that keeps the
 * inspector (remote code execution) off the network unless asked for.
 */
import { BlockList, isIP, isIPv6 } from 'node:net'
import type { Parsed } from './values.js'

const LOOPBACK = new BlockList()
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4')
LOOPBACK.addAddress('::1', 'ipv6')

/**
 * True for 127.0.0.0/8, ::1 (in any spelling, also IPv4-mapped ::ffff:127.x.x.x)
 * and `localhost`. Brackets around IPv6 are ignored. Other host names are not
 * loopback, even if they resolve to it.
 */
export function isLoopbackHost(host: string): boolean {
  let h = host.trim()
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1)
  if (h.toLowerCase() === 'localhost') return true
  const family = isIP(h)
  if (family === 4) return LOOPBACK.check(h, 'ipv4')
  if (family === 6) return LOOPBACK.check(h, 'ipv6')
  return false
}

const HOSTNAME = /^[A-Za-z0-9_]([A-Za-z0-9._-]*[A-Za-z0-9_])?$/

/** A host name or IP address (IPv6 with or without brackets); returned without brackets. */
export function parseHost(raw: string): Parsed<string> {
  if (raw.startsWith('[') && raw.endsWith(']')) {
    const inner = raw.slice(1, -1)
    return isIPv6(inner) ? { value: inner } : { error: `${JSON.stringify(raw)} is not an IPv6 address` }
  }
  // All-digit-and-dot names that are not IPv4 (e.g. 10.0.0.256) are typos, not host names.
  if (isIP(raw) !== 0 || (HOSTNAME.test(raw) && !/^[\d.]+$/.test(raw))) return { value: raw }
  return { error: `${JSON.stringify(raw)} is not a host name or IP address` }
}

/** Node's inspector binds 127.0.0.1, so `localhost` (which may resolve to ::1) is read as that. */
export function normalizeTargetHost(host: string): string {
  return host.toLowerCase() === 'localhost' ? '127.0.0.1' : host
}

/** `HOST:PORT`, with IPv6 hosts in brackets. */
export function hostPort(host: string, port: number): string {
  return `${isIPv6(host) ? `[${host}]` : host}:${port}`
}

export interface HostPort {
  host: string
  port: number
}

/** `HOST:PORT` (IPv6 as `[::1]:9229`) with the port in minPort..65535. */
export function parseHostPort(input: string, minPort: number): Parsed<HostPort> {
  const text = input.trim()
  const shown = JSON.stringify(text)
  let hostText: string
  let portText: string
  const bracketed = /^(\[[^\]]*\]):([^:]*)$/.exec(text)
  if (bracketed) {
    hostText = bracketed[1]!
    portText = bracketed[2]!
  } else {
    const colon = text.lastIndexOf(':')
    if (colon < 0) return { error: `${shown} is not HOST:PORT (e.g. 127.0.0.1:9229 or [::1]:9229)` }
    hostText = text.slice(0, colon)
    portText = text.slice(colon + 1)
    if (hostText.includes(':')) return { error: `${shown}: put an IPv6 address in brackets, e.g. [::1]:9229` }
  }
  if (hostText === '') return { error: `${shown} has no host (use HOST:PORT)` }
  const host = parseHost(hostText)
  if ('error' in host) return { error: `${shown}: ${host.error}` }
  const port = Number(portText)
  if (!/^\d+$/.test(portText) || port < minPort || port > 65535) {
    return { error: `${shown}: port must be ${minPort}..65535` }
  }
  return { value: { host: host.value, port } }
}

/** A target as one source gives it, before defaults and checks. */
export interface TargetInput {
  name: string | undefined
  host: string
  port: number
  intervalMs?: number | undefined
  timeoutMs?: number | undefined
  disabledCollectors?: readonly string[] | undefined
  serviceName?: string | undefined
}

/** `[NAME=]HOST:PORT`, as in --target and LEAKWATCH_TARGETS. */
export function parseTargetSpec(spec: string): Parsed<TargetInput> {
  const text = spec.trim()
  const eq = text.indexOf('=')
  const name = eq >= 0 ? text.slice(0, eq).trim() : undefined
  if (name === '') return { error: `${JSON.stringify(text)} has an empty name (use NAME=HOST:PORT or HOST:PORT)` }
  const hp = parseHostPort(eq >= 0 ? text.slice(eq + 1) : text, 1)
  if ('error' in hp) return hp
  return { value: { name, host: normalizeTargetHost(hp.value.host), port: hp.value.port } }
}
