/** The HTTP server's routing and bounds, over real sockets on loopback. */
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { test, type TestContext } from 'node:test'
import { HttpError, sendText } from '../src/http/respond.ts'
import { HttpServer, type HttpServerInit } from '../src/http/server.ts'
import type { HttpRoute } from '../src/http/types.ts'
import type { Logger } from '../src/log.ts'
import { waitFor } from '../src/util/wait-for.ts'

interface Recorded extends Logger { lines: string[] }

function recorder (): Recorded {
  const lines: string[] = []
  const at = (level: string) => (msg: string): void => { lines.push(`${level} ${msg}`) }
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
}

async function serve (t: TestContext, routes: HttpRoute[], init: Partial<HttpServerInit> = {}): Promise<{ server: HttpServer, base: string, logger: Recorded }> {
  const logger = recorder()
  const server = new HttpServer({ routes, logger }, { host: '127.0.0.1', port: 0, ...init })
  await server.start()
  t.after(async () => { await server.stop() })
  return { server, base: `http://${server.address}`, logger }
}

/** Sends raw bytes and reads what comes back until the server closes (or `ms` pass). */
async function raw (port: number, bytes: string | Buffer, ms = 5_000): Promise<string> {
  return await new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    const timer = setTimeout(() => { socket.destroy(); resolve(Buffer.concat(chunks).toString()) }, ms)
    socket.on('data', chunk => chunks.push(chunk))
    socket.on('error', reject)
    socket.on('close', () => { clearTimeout(timer); resolve(Buffer.concat(chunks).toString()) })
    socket.write(bytes)
  })
}

const hello: HttpRoute = { prefix: '/hello', methods: ['GET'], handler: async (_req, res) => { sendText(res, 200, 'hello') } }
const root: HttpRoute = { prefix: '/', methods: ['GET'], handler: async (_req, res, url) => { sendText(res, 200, `root ${url.pathname}`) } }

test('the longest matching prefix answers; unknown paths 404 and wrong methods 405 with one line', async t => {
  const ipfs: HttpRoute = { prefix: '/ipfs/', methods: ['GET', 'HEAD'], handler: async (_req, res, url) => { sendText(res, 200, `ipfs ${url.pathname}`) } }
  const { base } = await serve(t, [hello, ipfs])
  assert.equal(await (await fetch(`${base}/hello`)).text(), 'hello\n')
  assert.equal(await (await fetch(`${base}/hello/there?x=1`)).text(), 'hello\n')
  assert.equal(await (await fetch(`${base}/ipfs/bafy`)).text(), 'ipfs /ipfs/bafy\n')
  const unknown = await fetch(`${base}/hellothere`)
  assert.equal(unknown.status, 404)
  assert.equal(await unknown.text(), 'not found: /hellothere\n')
  assert.equal((await fetch(`${base}/ipfs`)).status, 404)
  const post = await fetch(`${base}/hello`, { method: 'POST', body: 'x' })
  assert.equal(post.status, 405)
  assert.equal(post.headers.get('allow'), 'GET, HEAD')
  assert.equal(await post.text(), 'method POST not allowed here: GET, HEAD\n')
  // HEAD wherever GET: the status and headers without the body.
  const head = await fetch(`${base}/hello`, { method: 'HEAD' })
  assert.equal(head.status, 200)
  assert.equal(await head.text(), '')

  const both = await serve(t, [hello, root])
  assert.equal(await (await fetch(`${both.base}/hello`)).text(), 'hello\n')
  assert.equal(await (await fetch(`${both.base}/block/1`)).text(), 'root /block/1\n')
})

test('a handler that throws is a 500, logged once per distinct failure; an HttpError is its status, not logged', async t => {
  const failing: HttpRoute = {
    prefix: '/fail',
    methods: ['GET'],
    handler: async (_req, _res, url) => {
      if (url.searchParams.has('refuse')) throw new HttpError('BAD_REQUEST', 'no such thing')
      throw new Error('the handler broke')
    }
  }
  const { base, logger } = await serve(t, [failing, hello])
  for (let i = 0; i < 5; i++) {
    const res = await fetch(`${base}/fail`)
    assert.equal(res.status, 500)
    assert.equal(await res.text(), 'internal error\n')
  }
  assert.equal(logger.lines.filter(l => l.startsWith('error ')).length, 1)
  assert.match(logger.lines.find(l => l.startsWith('error ')) ?? '', /http \/fail: the handler broke \(GET \/fail\)/)
  const refused = await fetch(`${base}/fail?refuse`)
  assert.equal(refused.status, 400)
  assert.equal(await refused.text(), 'no such thing\n')
  assert.equal(logger.lines.filter(l => l.startsWith('error ')).length, 1)
  // Still serving.
  assert.equal((await fetch(`${base}/hello`)).status, 200)
})

test('huge and malformed requests get a clear 4xx and the server goes on', async t => {
  const { server, base } = await serve(t, [hello, root], { requestTimeoutMs: 1_500 })
  const port = server.port
  // Headers past 16 KiB.
  const huge = await raw(port, `GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`)
  assert.match(huge, /^HTTP\/1\.1 431 /)
  assert.match(huge, /request header fields too large\n$/)
  // A path past 2 KiB (within the header bound).
  const long = await raw(port, `GET /${'a'.repeat(4_000)} HTTP/1.1\r\nHost: x\r\n\r\n`)
  assert.match(long, /^HTTP\/1\.1 414 /)
  assert.match(long, /path too long: at most 2048 bytes\n$/)
  // Not HTTP at all.
  const garbage = await raw(port, Buffer.from([0x16, 0x03, 0x01, 0x00, 0xff, 0x01, 0x00, 0x00, 0x00, 0x0d, 0x0a, 0x0d, 0x0a]))
  assert.match(garbage, /^HTTP\/1\.1 400 Bad Request/)
  assert.match(garbage, /\r\n\r\nbad request: [a-z ]+\n$/)
  // A target that is not a path.
  const star = await raw(port, 'OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n')
  assert.match(star, /^HTTP\/1\.1 400 /)
  assert.match(star, /bad request: the target must be a path\n$/)
  // A GET with a body is refused, not read.
  const body = await raw(port, `GET /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n${'x'.repeat(1000)}`)
  assert.match(body, /^HTTP\/1\.1 400 /)
  assert.match(body, /bad request: a GET takes no body\n$/)
  // Headers that never end: cut by the request timeout.
  const started = Date.now()
  const slow = await raw(port, 'GET /hello HTTP/1.1\r\nHost: x\r\n', 10_000)
  assert.match(slow, /^HTTP\/1\.1 408 /)
  assert.ok(Date.now() - started < 9_000, 'the slow request was cut by the timeout')
  assert.equal(await (await fetch(`${base}/hello`)).text(), 'hello\n')
})

test('connections are bounded: past maxConnections new ones are closed and the open ones still served', async t => {
  const { server, base } = await serve(t, [hello], { maxConnections: 20 })
  const sockets = await Promise.all(Array.from({ length: 20 }, async () => await new Promise<ReturnType<typeof connect>>((resolve, reject) => {
    const socket = connect(server.port, '127.0.0.1', () => { resolve(socket) })
    socket.on('error', reject)
  })))
  t.after(() => { for (const s of sockets) s.destroy() })
  await waitFor(async () => await server.connections() === 20, '20 connections open')
  // The 21st is closed at once, without an answer.
  assert.equal(await raw(server.port, 'GET /hello HTTP/1.1\r\nHost: x\r\n\r\n'), '')
  // One of the held connections still gets its answer.
  const answer = await new Promise<string>(resolve => {
    sockets[0].once('data', chunk => { resolve(chunk.toString()) })
    sockets[0].write('GET /hello HTTP/1.1\r\nHost: x\r\n\r\n')
  })
  assert.match(answer, /^HTTP\/1\.1 200 OK/)
  for (const s of sockets) s.destroy()
  await waitFor(async () => await server.connections() === 0, 'connections closed')
  assert.equal((await fetch(`${base}/hello`)).status, 200)
})
