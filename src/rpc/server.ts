import { randomBytes, timingSafeEqual } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { join } from 'node:path'
import { rm } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { CointsError } from '../core/errors.ts'
import type { Logger } from '../log.ts'
import { writeFileAtomic } from '../util/atomic-file.ts'
import type { MethodTable } from './methods/types.ts'
import { ParamsError, validateParams } from './params.ts'

export const COOKIE_FILE = '.cookie'
export const COOKIE_USER = '__cookie__'
const MAX_BODY_BYTES = 8 * 1024 * 1024

/** JSON-RPC error codes: the standard ones, and Bitcoin Core's for application errors. */
export const RpcCode = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
  MISC_ERROR: -1,
  WALLET_ERROR: -4,
  NOT_FOUND: -5,
  DESERIALIZATION_ERROR: -22,
  VERIFY_ERROR: -25
} as const

export interface RpcServerComponents {
  methods: MethodTable
  logger: Logger
}

export interface RpcServerInit {
  host?: string
  port: number
  /** The cookie file is written here at start and removed at stop. */
  datadir: string
}

interface RpcError { code: number, message: string, data?: { code: string } }

/** Error classes mapped to application codes by name, so this layer needs no import of the wallet or chain. */
const CODE_BY_CLASS: Record<string, number> = {
  TxError: RpcCode.VERIFY_ERROR,
  BlockError: RpcCode.VERIFY_ERROR,
  DecodeError: RpcCode.DESERIALIZATION_ERROR,
  WalletError: RpcCode.WALLET_ERROR
}

/**
 * JSON-RPC 2.0 over HTTP POST on loopback, with Basic auth against a cookie
 * file that is new at every start (as Bitcoin Core's). Every failure is a
 * JSON-RPC error object; nothing a client sends can crash the node.
 */
export class RpcServer {
  readonly #c: RpcServerComponents
  readonly #init: RpcServerInit
  #server: Server | undefined
  #cookie = ''

  constructor (components: RpcServerComponents, init: RpcServerInit) {
    this.#c = components
    this.#init = init
  }

  get cookiePath (): string { return join(this.#init.datadir, COOKIE_FILE) }

  get port (): number {
    return (this.#server?.address() as AddressInfo | null)?.port ?? this.#init.port
  }

  async start (): Promise<void> {
    this.#cookie = randomBytes(32).toString('hex')
    const server = createServer((req, res) => { this.#onRequest(req, res) })
    server.keepAliveTimeout = 5_000
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.#init.port, this.#init.host ?? '127.0.0.1', () => {
        server.off('error', reject)
        resolve()
      })
    })
    this.#server = server
    await writeFileAtomic(this.cookiePath, `${COOKIE_USER}:${this.#cookie}`, 0o600)
  }

  async stop (): Promise<void> {
    const server = this.#server
    if (server === undefined) return
    this.#server = undefined
    await rm(this.cookiePath, { force: true })
    server.closeAllConnections()
    await new Promise<void>(resolve => { server.close(() => { resolve() }) })
  }

  #authorised (req: IncomingMessage): boolean {
    const header = req.headers.authorization ?? ''
    if (!header.startsWith('Basic ')) return false
    const given = Buffer.from(Buffer.from(header.slice(6), 'base64').toString('utf8'))
    const expected = Buffer.from(`${COOKIE_USER}:${this.#cookie}`)
    return given.length === expected.length && timingSafeEqual(given, expected)
  }

  #onRequest (req: IncomingMessage, res: ServerResponse): void {
    if (!this.#authorised(req)) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="coints"', 'Content-Type': 'text/plain' }).end('unauthorised: use the cookie in the datadir\n')
      return
    }
    if (req.method !== 'POST') {
      res.writeHead(405, { Allow: 'POST', 'Content-Type': 'text/plain' }).end('JSON-RPC takes POST\n')
      return
    }
    const chunks: Buffer[] = []
    let size = 0
    let tooLarge = false
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > MAX_BODY_BYTES) {
        tooLarge = true
        req.pause()
        res.writeHead(413, { Connection: 'close', 'Content-Type': 'text/plain' }).end('request body too large\n')
        req.destroy()
        return
      }
      chunks.push(chunk)
    })
    req.on('end', () => {
      if (tooLarge) return
      void this.#answer(Buffer.concat(chunks).toString('utf8')).then(body => {
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(body)
      })
    })
    req.on('error', () => { res.destroy() })
  }

  async #answer (text: string): Promise<string> {
    let request: unknown
    try {
      request = JSON.parse(text)
    } catch {
      return serialise(errorReply(null, { code: RpcCode.PARSE_ERROR, message: 'parse error: the body is not JSON' }))
    }
    if (Array.isArray(request)) {
      if (request.length === 0) return serialise(errorReply(null, { code: RpcCode.INVALID_REQUEST, message: 'empty batch' }))
      const replies = []
      for (const r of request) replies.push(await this.#call(r))
      return serialise(replies)
    }
    return serialise(await this.#call(request))
  }

  async #call (request: unknown): Promise<unknown> {
    if (typeof request !== 'object' || request === null || Array.isArray(request)) {
      return errorReply(null, { code: RpcCode.INVALID_REQUEST, message: 'a request must be an object' })
    }
    const { id = null, method, params } = request as Record<string, unknown>
    if (typeof method !== 'string') return errorReply(id, { code: RpcCode.INVALID_REQUEST, message: 'method must be a string' })
    const spec = Object.hasOwn(this.#c.methods, method) ? this.#c.methods[method] : undefined
    if (spec === undefined) return errorReply(id, { code: RpcCode.METHOD_NOT_FOUND, message: `method not found: ${method.slice(0, 64)}` })
    try {
      const result = await spec.handler(validateParams(method, spec.params, params))
      return { jsonrpc: '2.0', id, result: result ?? null }
    } catch (err) {
      return errorReply(id, this.#toRpcError(method, err))
    }
  }

  #toRpcError (method: string, err: unknown): RpcError {
    if (err instanceof ParamsError) return { code: RpcCode.INVALID_PARAMS, message: err.message, data: { code: err.code } }
    if (err instanceof CointsError) {
      const code = err.code === 'NOT_FOUND' ? RpcCode.NOT_FOUND : CODE_BY_CLASS[err.name] ?? RpcCode.MISC_ERROR
      return { code, message: err.message, data: { code: err.code } }
    }
    this.#c.logger.error(`rpc ${method} failed: ${(err as Error).stack ?? String(err)}`)
    return { code: RpcCode.INTERNAL_ERROR, message: `internal error: ${(err as Error).message}` }
  }
}

function errorReply (id: unknown, error: RpcError): unknown {
  return { jsonrpc: '2.0', id, error }
}

/** JSON with bigint as decimal strings, so an amount that slipped through unformatted cannot crash a reply. */
function serialise (value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => typeof v === 'bigint' ? v.toString() : v)
}
