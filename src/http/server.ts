import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import type { Logger } from '../log.ts'
import { BoundedSet } from '../util/bounded-set.ts'
import { formatHostPort } from '../util/host-port.ts'
import type { Startable } from '../util/startable.ts'
import { HttpError, sendText } from './respond.ts'
import type { HttpRoute } from './types.ts'

export interface HttpServerComponents {
  /** Mounted by the composition root; the longest matching prefix answers. */
  routes: HttpRoute[]
  logger: Logger
}

export interface HttpServerInit {
  host: string
  /** 0: one the system picks. */
  port: number
  /** Open connections at most; past it the system's accept is answered by closing (Node's server.maxConnections). */
  maxConnections?: number
  /** Request line and headers, in bytes, at most (431 beyond). */
  maxHeaderBytes?: number
  /** A request must have arrived whole within this long (408 beyond). */
  requestTimeoutMs?: number
  /** An idle connection is closed after this long (long-lived answers keep theirs alive by writing). */
  idleTimeoutMs?: number
  /** Request paths longer than this are refused (414). */
  maxPathBytes?: number
}

const DEFAULTS = {
  maxConnections: 512,
  maxHeaderBytes: 16 * 1024,
  requestTimeoutMs: 10_000,
  idleTimeoutMs: 30_000,
  maxPathBytes: 2_048
}

/**
 * The HTTP server for people and tools (the explorer, /metrics, the IPFS
 * gateway), apart from JSON-RPC: read-only, no cookie, nothing secret. Routes
 * are mounted by the node. Bounded: connections, header size, path length, the
 * time a request may take to arrive, idle connections; a request body is
 * refused where no route takes one. Unknown paths are 404 and wrong methods 405,
 * each with a one-line body; a handler that throws is a 500 logged once per
 * distinct failure, never a crash.
 */
export class HttpServer implements Startable {
  readonly #c: HttpServerComponents
  readonly #init: Required<HttpServerInit>
  /** Longest prefix first. */
  readonly #routes: HttpRoute[]
  /** Handler failures already logged at error level (repeats go to debug: a client cannot flood the log). */
  readonly #logged = new BoundedSet<string>(1_000)
  #server: Server | undefined

  constructor (components: HttpServerComponents, init: HttpServerInit) {
    this.#c = components
    this.#init = { ...DEFAULTS, ...init }
    this.#routes = [...components.routes].sort((a, b) => b.prefix.length - a.prefix.length)
  }

  /** The address listened on, host:port (the port the system picked for 0). */
  get address (): string {
    const a = this.#server?.address() as AddressInfo | null | undefined
    return a === null || a === undefined ? formatHostPort(this.#init.host, this.#init.port) : formatHostPort(a.address, a.port)
  }

  get port (): number {
    return (this.#server?.address() as AddressInfo | null | undefined)?.port ?? this.#init.port
  }

  /** Connections open now. */
  async connections (): Promise<number> {
    const server = this.#server
    if (server === undefined) return 0
    return await new Promise(resolve => { server.getConnections((err, count) => { resolve(err === null ? count : 0) }) })
  }

  async start (): Promise<void> {
    if (this.#server !== undefined) return
    const { maxHeaderBytes, requestTimeoutMs, idleTimeoutMs, maxConnections } = this.#init
    const server = createServer({
      maxHeaderSize: maxHeaderBytes,
      requestTimeout: requestTimeoutMs,
      headersTimeout: requestTimeoutMs,
      keepAliveTimeout: 5_000,
      // Checked often enough that the request timeout holds to within a second.
      connectionsCheckingInterval: 1_000
    }, (req, res) => { this.#onRequest(req, res) })
    server.maxConnections = maxConnections
    server.timeout = idleTimeoutMs
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => { clientError(err, socket) })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.#init.port, this.#init.host, () => {
        server.off('error', reject)
        resolve()
      })
    })
    this.#server = server
    this.#c.logger.debug(`listening on http://${this.address}/`)
  }

  async stop (): Promise<void> {
    const server = this.#server
    if (server === undefined) return
    this.#server = undefined
    // Long-lived answers (event streams) end with their connections.
    server.closeAllConnections()
    await new Promise<void>(resolve => { server.close(() => { resolve() }) })
  }

  #route (path: string): HttpRoute | undefined {
    // '/metrics' answers /metrics and /metrics/…, not /metricsfoo; a prefix ending in '/' answers what starts with it.
    return this.#routes.find(r => r.prefix.endsWith('/') ? path.startsWith(r.prefix) : path === r.prefix || path.startsWith(`${r.prefix}/`))
  }

  #onRequest (req: IncomingMessage, res: ServerResponse): void {
    const target = req.url ?? ''
    if (!target.startsWith('/')) return sendText(res, 400, 'bad request: the target must be a path', { Connection: 'close' })
    if (target.length > this.#init.maxPathBytes) return sendText(res, 414, `path too long: at most ${this.#init.maxPathBytes} bytes`, { Connection: 'close' })
    let url: URL
    try {
      url = new URL(target, 'http://coints.invalid')
    } catch {
      return sendText(res, 400, 'bad request: the path is not a URL path')
    }
    const route = this.#route(url.pathname)
    if (route === undefined) return sendText(res, 404, `not found: ${url.pathname}`)
    const method = req.method ?? ''
    // HEAD wherever GET is: the same answer without its body (Node leaves it out).
    const allowed = route.methods.includes('GET') && !route.methods.includes('HEAD') ? [...route.methods, 'HEAD'] : route.methods
    if (!(allowed as string[]).includes(method)) return sendText(res, 405, `method ${method} not allowed here: ${allowed.join(', ')}`, { Allow: allowed.join(', ') })
    // Nothing here reads a body unless it takes POST: one sent anyway is refused, not read.
    if (method !== 'POST' && (req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0)) {
      return sendText(res, 400, `bad request: a ${method} takes no body`, { Connection: 'close' })
    }
    route.handler(req, res, url).catch((err: unknown) => { this.#failed(route, req, res, err) })
  }

  #failed (route: HttpRoute, req: IncomingMessage, res: ServerResponse, err: unknown): void {
    if (err instanceof HttpError) return sendText(res, err.status, err.reason)
    const line = `http ${route.prefix}: ${err instanceof Error ? err.message : String(err)}`
    if (this.#logged.has(line)) {
      this.#c.logger.debug(`${line} (again, ${req.method ?? ''} ${req.url ?? ''})`)
    } else {
      this.#logged.add(line)
      this.#c.logger.error(`${line} (${req.method ?? ''} ${req.url ?? ''}): ${err instanceof Error ? err.stack ?? '' : ''}`)
    }
    sendText(res, 500, 'internal error')
  }
}

/** What Node's parser refused, answered with its status and one line before the connection closes. */
function clientError (err: NodeJS.ErrnoException, socket: Socket): void {
  if (!socket.writable || err.code === 'ECONNRESET') {
    socket.destroy()
    return
  }
  const [status, line] = err.code === 'HPE_HEADER_OVERFLOW'
    ? [431, 'request header fields too large']
    : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'request timeout: the request did not arrive in time']
      : [400, `bad request: ${err.code === undefined ? 'malformed' : err.code.replace(/^HPE_/, '').toLowerCase().replaceAll('_', ' ')}`]
  const reason = { 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' }[status]
  const body = `${line}\n`
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
}
