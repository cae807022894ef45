import { isIP } from 'node:net'

export interface HostPort { host: string, port?: number }

/**
 * `10.0.0.5`, `10.0.0.5:9443`, `::`, `[::1]:9443`: an IP address with an
 * optional port, as the RPC and HTTP listen flags take them; undefined when the
 * text is neither (callers name the flag in their error).
 */
export function parseHostPort (text: string): HostPort | undefined {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text)
  const plain = bracketed === null ? /^([^:]+)(?::(\d+))?$/.exec(text) : null
  const host = bracketed?.[1] ?? plain?.[1] ?? text
  const port = bracketed?.[2] ?? plain?.[2]
  if (isIP(host) === 0 || (port !== undefined && Number(port) > 65_535)) return undefined
  return { host, port: port === undefined ? undefined : Number(port) }
}

/** host:port as a URL writes it (an IPv6 host in brackets). */
export function formatHostPort (host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`
}
