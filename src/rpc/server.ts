import { randomBytes, timingSafeEqual } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { join } from 'node:path'
import { rm } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { CointsError } from '../core/errors.ts'
import { quoted } from '../core/text.ts'
import type { Logger } from '../log.ts'
import { writeFileAtomic } from '../util/atomic-file.ts'
import { parseHostPort } from '../util/host-port.ts'
import type { Startable } from '../util/startable.ts'
import { checkRpcAuth, type RpcAuth } from './auth.ts'
import { JsonShapeScanner, type JsonShapeProblem } from './json-shape.ts'
import type { MethodTable } from './methods/types.ts'
import { ParamsError } from './params.ts'

export const COOKIE_FILE = '.cookie'
export const COOKIE_USER = '__cookie__'
/** Beside the cookie, the port the node's RPC listens on: `coints rpc --datadir` finds a node on any port. */
export const PORT_FILE = '.rpcport'
/** A failed login from another machine is answered this late (as Bitcoin Core's), to slow password guessing. */
const REMOTE_AUTH_FAILURE_DELAY_MS = 250
const MAX_BODY_BYTES = 8 * 1024 * 1024
/** Requests in one batch at most. */
const MAX_BATCH = 1_000
/** Once a batch's replies pass this size, its remaining requests are not run: a reply must stay far below V8's longest string. */
const MAX_BATCH_REPLY_BYTES = 64 * 1024 * 1024

/** JSON-RPC error codes: the standard ones, and Bitcoin Core's for application errors. */
export const RpcCode = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
  MISC_ERROR: -1,
  WALLET_ERROR: -4,
  /** Not ready yet, try again: Bitcoin Core's RPC_IN_WARMUP, which its clients retry on. */
  IN_WARMUP: -28,
  NOT_FOUND: -5,
  DESERIALIZATION_ERROR: -22,
  VERIFY_ERROR: -25
} as const

export interface RpcServerComponents {
  methods: MethodTable
  logger: Logger
}

export interface RpcServerInit {
  /** The loopback address, where the cookie works (default 127.0.0.1). */
  host?: string
  port: number
  /** The cookie and port files are written here at start and removed at stop. */
  datadir: string
  /** Further addresses to listen on (`--rpc-bind`), as parseRpcBind gives them: only salted credentials work there. */
  bind?: RpcBind[]
  /** Salted credentials (`--rpc-auth`), accepted from anywhere. */
  auth?: RpcAuth[]
}

export interface RpcBind { host: string, port?: number }

/** `10.0.0.5`, `10.0.0.5:9443`, `::`, `[::1]:9443`: an address for RPC to listen on, with its port if given. */
export function parseRpcBind (text: string): RpcBind {
  const bind = parseHostPort(text)
  if (bind === undefined) throw new CointsError('BAD_RPC_BIND', `${quoted(text)} is not an IP address with an optional port (e.g. 0.0.0.0, 10.0.0.5:9443, [::]:9443)`)
  return bind
}

/** Whether a peer address is this machine's loopback (IPv4 127/8, IPv6 ::1, or IPv4 mapped into IPv6). */
function isLoopback (address: string | undefined): boolean {
  return address !== undefined && (address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.'))
}

function isWildcard (host: string): boolean {
  return host === '0.0.0.0' || host === '::'
}

interface RpcError { code: number, message: string, data?: { code: string } }

/** Error classes mapped to application codes by name, so this layer needs no import of the wallet or chain. */
const CODE_BY_CLASS: Record<string, number> = {
  TxError: RpcCode.VERIFY_ERROR,
  BlockError: RpcCode.VERIFY_ERROR,
  DecodeError: RpcCode.DESERIALIZATION_ERROR,
  WalletError: RpcCode.WALLET_ERROR
}
/** Error codes that mean "not yet": answered as RPC_IN_WARMUP whatever their class. */
const RETRY_LATER = new Set(['WALLET_SCANNING'])

/**
 * JSON-RPC 2.0 over HTTP POST, on loopback with Basic auth against a cookie
 * file that is new at every start (as Bitcoin Core's), and on `bind` addresses
 * with salted credentials only: the cookie is never accepted from another
 * machine. Every failure is a JSON-RPC error object; nothing a client sends can
 * crash the node.
 */
export class RpcServer implements Startable {
  readonly #c: RpcServerComponents
  readonly #init: RpcServerInit
  #servers: Server[] = []
  #starting: Promise<void> | undefined
  #cookie = ''

  constructor (components: RpcServerComponents, init: RpcServerInit) {
    this.#c = components
    this.#init = init
  }

  get cookiePath (): string { return join(this.#init.datadir, COOKIE_FILE) }

  /** The loopback listener's port (the first). */
  get port (): number {
    return (this.#servers[0]?.address() as AddressInfo | null)?.port ?? this.#init.port
  }

  /** Every address listened on, as host:port. */
  get addresses (): string[] {
    return this.#servers.map(s => {
      const a = s.address() as AddressInfo
      return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`
    })
  }

  /** The loopback address, unless a wildcard bind covers it, then each bind address. */
  #listeners (): Array<{ host: string, port: number }> {
    const binds = (this.#init.bind ?? []).map(b => ({ host: b.host, port: b.port ?? this.#init.port }))
    const loopback = { host: this.#init.host ?? '127.0.0.1', port: this.#init.port }
    return binds.some(b => isWildcard(b.host) && b.port === loopback.port && loopback.port !== 0) ? binds : [loopback, ...binds]
  }

  async start (): Promise<void> {
    this.#starting ??= this.#start()
    await this.#starting
  }

  async #start (): Promise<void> {
    this.#cookie = randomBytes(32).toString('hex')
    try {
      for (const { host, port } of this.#listeners()) {
        const server = createServer((req, res) => { this.#onRequest(req, res) })
        server.keepAliveTimeout = 5_000
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject)
          server.listen(port, host, () => {
            server.off('error', reject)
            resolve()
          })
        })
        this.#servers.push(server)
      }
    } catch (err) {
      await this.#close()
      throw err
    }
    await writeFileAtomic(this.cookiePath, `${COOKIE_USER}:${this.#cookie}`, 0o600)
    await writeFileAtomic(join(this.#init.datadir, PORT_FILE), `${this.port}\n`, 0o600)
  }

  async stop (): Promise<void> {
    await this.#starting?.catch(() => {})
    this.#starting = undefined
    if (this.#servers.length === 0) return
    await rm(this.cookiePath, { force: true })
    await rm(join(this.#init.datadir, PORT_FILE), { force: true })
    await this.#close()
  }

  async #close (): Promise<void> {
    const servers = this.#servers
    this.#servers = []
    for (const server of servers) {
      server.closeAllConnections()
      await new Promise<void>(resolve => { server.close(() => { resolve() }) })
    }
  }

  /** Whether the request carries the cookie (from this machine only) or salted credentials. */
  #authorised (req: IncomingMessage): boolean {
    const header = req.headers.authorization ?? ''
    if (!header.startsWith('Basic ')) return false
    const pair = Buffer.from(header.slice(6), 'base64').toString('utf8')
    const colon = pair.indexOf(':')
    const user = colon < 0 ? pair : pair.slice(0, colon)
    if (user === COOKIE_USER) {
      const given = Buffer.from(pair)
      const expected = Buffer.from(`${COOKIE_USER}:${this.#cookie}`)
      return isLoopback(req.socket.remoteAddress) && given.length === expected.length && timingSafeEqual(given, expected)
    }
    return colon > 0 && checkRpcAuth(this.#init.auth ?? [], user, pair.slice(colon + 1))
  }

  #onRequest (req: IncomingMessage, res: ServerResponse): void {
    if (!this.#authorised(req)) {
      const refuse = (): void => {
        res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="coints"', 'Content-Type': 'text/plain' }).end('unauthorised: use the cookie in the datadir (on this machine) or an --rpc-auth user\n')
      }
      if (isLoopback(req.socket.remoteAddress)) refuse()
      else setTimeout(refuse, REMOTE_AUTH_FAILURE_DELAY_MS)
      return
    }
    if (req.method !== 'POST') {
      res.writeHead(405, { Allow: 'POST', 'Content-Type': 'text/plain' }).end('JSON-RPC takes POST\n')
      return
    }
    const chunks: Buffer[] = []
    let size = 0
    let tooLarge = false
    // Judged as it arrives: JSON.parse would allocate whatever the nesting asks. Once refused, the rest is only counted, so the reply still reaches the client.
    const shape = new JsonShapeScanner()
    let refusal: JsonShapeProblem | undefined
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > MAX_BODY_BYTES) {
        tooLarge = true
        req.pause()
        res.writeHead(413, { Connection: 'close', 'Content-Type': 'text/plain' }).end('request body too large\n')
        req.destroy()
        return
      }
      if (refusal !== undefined) return
      refusal = shape.push(chunk)
      if (refusal === undefined) chunks.push(chunk)
      else chunks.length = 0
    })
    req.on('end', () => {
      if (tooLarge) return
      if (refusal !== undefined) {
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(serialise(errorReply(null, { code: RpcCode.PARSE_ERROR, message: `parse error: ${refusal.message}`, data: { code: refusal.code } })))
        return
      }
      this.#answer(Buffer.concat(chunks).toString('utf8')).then(body => {
        if (body === undefined) res.writeHead(204).end()
        else res.writeHead(200, { 'Content-Type': 'application/json' }).end(body)
      }, (err: unknown) => {
        // #answer catches what it expects: a failure here is a bug, answered without taking the node down.
        this.#c.logger.error(`rpc reply failed: ${(err as Error).stack ?? String(err)}`)
        if (res.headersSent) res.destroy()
        else res.writeHead(500, { 'Content-Type': 'text/plain' }).end('internal error\n')
      })
    })
    req.on('error', () => { res.destroy() })
  }

  /** The reply body; undefined when there is nothing to answer (notifications only). */
  async #answer (text: string): Promise<string | undefined> {
    let request: unknown
    try {
      request = JSON.parse(text)
    } catch {
      return this.#serialise(errorReply(null, { code: RpcCode.PARSE_ERROR, message: 'parse error: the body is not JSON' }))
    }
    if (!Array.isArray(request)) {
      const reply = await this.#call(request)
      return reply === undefined ? undefined : this.#serialise(reply)
    }
    if (request.length === 0) return this.#serialise(errorReply(null, { code: RpcCode.INVALID_REQUEST, message: 'empty batch' }))
    if (request.length > MAX_BATCH) return this.#serialise(errorReply(null, { code: RpcCode.INVALID_REQUEST, message: `a batch of ${request.length} requests: at most ${MAX_BATCH}` }))
    const replies: string[] = []
    let bytes = 0
    for (const r of request) {
      const reply = bytes <= MAX_BATCH_REPLY_BYTES
        ? await this.#call(r)
        : errorReply(idOf(r) ?? null, { code: RpcCode.INTERNAL_ERROR, message: `not run: the batch's replies passed ${MAX_BATCH_REPLY_BYTES} bytes; ask in smaller batches` })
      if (reply === undefined) continue
      const body = this.#serialise(reply)
      bytes += body.length
      replies.push(body)
    }
    return replies.length === 0 ? undefined : `[${replies.join(',')}]`
  }

  /** One reply as JSON; a reply that cannot be written becomes an internal error, not a crash. */
  #serialise (reply: unknown): string {
    try {
      return serialise(reply)
    } catch (err) {
      this.#c.logger.error(`rpc reply could not be serialised: ${(err as Error).message}`)
      return serialise(errorReply(null, { code: RpcCode.INTERNAL_ERROR, message: `internal error: the reply could not be written (${(err as Error).message})` }))
    }
  }

  /** A request's reply; undefined for a notification (a request without an id), which JSON-RPC 2.0 never answers. */
  async #call (request: unknown): Promise<unknown> {
    if (typeof request !== 'object' || request === null || Array.isArray(request)) {
      return errorReply(null, { code: RpcCode.INVALID_REQUEST, message: 'a request must be an object' })
    }
    const { method, params } = request as Record<string, unknown>
    const notification = !Object.hasOwn(request, 'id')
    const id = idOf(request)
    if (id === undefined) return errorReply(null, { code: RpcCode.INVALID_REQUEST, message: 'id must be a string, a number or null' })
    if (typeof method !== 'string') return errorReply(id, { code: RpcCode.INVALID_REQUEST, message: 'method must be a string' })
    const spec = Object.hasOwn(this.#c.methods, method) ? this.#c.methods[method] : undefined
    let reply: unknown
    if (spec === undefined) {
      reply = errorReply(id, { code: RpcCode.METHOD_NOT_FOUND, message: `method not found: ${method.slice(0, 64)}` })
    } else {
      try {
        const result = await spec.run(method, params)
        reply = { jsonrpc: '2.0', id, result: result ?? null }
      } catch (err) {
        reply = errorReply(id, this.#toRpcError(method, err))
      }
    }
    return notification ? undefined : reply
  }

  #toRpcError (method: string, err: unknown): RpcError {
    if (err instanceof ParamsError) return { code: RpcCode.INVALID_PARAMS, message: err.message, data: { code: err.code } }
    if (err instanceof CointsError) {
      const code = err.code === 'NOT_FOUND' ? RpcCode.NOT_FOUND : RETRY_LATER.has(err.code) ? RpcCode.IN_WARMUP : CODE_BY_CLASS[err.name] ?? RpcCode.MISC_ERROR
      return { code, message: err.message, data: { code: err.code } }
    }
    this.#c.logger.error(`rpc ${method} failed: ${(err as Error).stack ?? String(err)}`)
    return { code: RpcCode.INTERNAL_ERROR, message: `internal error: ${(err as Error).message}` }
  }
}

function errorReply (id: unknown, error: RpcError): unknown {
  return { jsonrpc: '2.0', id, error }
}

/** A request's id as JSON-RPC 2.0 allows it (a string, a number or null; null when absent); undefined when it is anything else. */
function idOf (request: unknown): string | number | null | undefined {
  const id = (request as { id?: unknown } | null)?.id ?? null
  return id === null || typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id)) ? id : undefined
}

/** JSON with bigint as decimal strings, so an amount that slipped through unformatted cannot crash a reply. */
function serialise (value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => typeof v === 'bigint' ? v.toString() : v)
}
