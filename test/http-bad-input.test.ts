/**
 * Bad input to a node's HTTP server: unknown paths, malformed ids and
 * parameters, garbage searches, huge requests and ten thousand event-stream
 * clients get clear 4xx answers, and the node stays responsive throughout.
 */
import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { test } from 'node:test'
import { newKey, rpc, startNode, waitFor } from './helpers/node-harness.ts'

/** The status line and body of a raw request (the connection closes after one answer, or after `ms`). */
async function raw (port: number, request: string, ms = 5_000): Promise<string> {
  return await new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let text = ''
    const timer = setTimeout(() => { socket.destroy(); resolve(text) }, ms)
    socket.on('data', chunk => { text += String(chunk) })
    socket.on('error', reject)
    socket.on('close', () => { clearTimeout(timer); resolve(text) })
    socket.write(request)
  })
}

test('unknown paths, malformed ids and parameters, garbage searches: each a 4xx with one line', async t => {
  const key = newKey()
  const node = await startNode(t, { http: { host: '127.0.0.1', port: 0 }, minerAddress: key.address })
  await rpc(node, 'generate', [3])
  const base = `http://${node.http?.address ?? ''}`
  const cases: Array<[string, number, RegExp]> = [
    ['/nope', 404, /^not found: \/nope$/],
    ['/api/nope', 404, /^not found: \/api\/nope$/],
    ['/api/status/extra', 404, /^not found: /],
    ['/assets/..%2f..%2fpackage.json', 404, /^not found: /],
    ['/assets/../../package.json', 404, /^not found: \/package\.json$/],
    ['/block/a/b', 404, /^not found: /],
    ['/api/block/not-a-cid', 400, /^not a block id: not-a-cid$/],
    ['/api/block/99999', 404, /^no block at height 99999 \(the tip is at 3\)$/],
    ['/api/block/bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy', 404, /^no block bafy\w+ here$/],
    ['/api/tx/%ZZ', 400, /^bad request: the path is not a URL path$|^bad percent-encoding/],
    ['/api/tx/%E0%A4%A', 400, /^bad percent-encoding in /],
    ['/api/tx/bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy', 404, /^no transaction bafy\w+ here$/],
    ['/api/blocks?count=abc', 400, /^count must be a whole number up to 25$/],
    ['/api/blocks?count=1000', 400, /^count must be a whole number up to 25$/],
    ['/api/block/1?page=-1', 400, /^page must be a whole number/],
    ['/api/search?q=', 400, /^search for a height, a block id, a transaction id or an address$/],
    ['/api/search?q=%00%01garbage%FF', 404, /^nothing matches /],
    [`/api/search?q=${'x'.repeat(500)}`, 400, /^search text too long: at most 200 characters$/],
    ['/api/search?q=123456789', 404, /^no block at height 123456789 \(the tip is at 3\)$/],
    ['/api/address/rcoin1notanaddress', 400, /^invalid address /],
    [`/api/address/${key.address}`, 409, /^the address index is off: start the node with --addrindex/],
    [`/${'a'.repeat(3_000)}`, 414, /^path too long: at most 2048 bytes$/]
  ]
  for (const [path, status, line] of cases) {
    const res = await fetch(`${base}${path}`)
    const body = await res.text()
    assert.equal(res.status, status, `${path}: ${body}`)
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/, path)
    assert.ok(body.endsWith('\n') && !body.slice(0, -1).includes('\n'), `${path}: one line`)
    assert.match(body.trim(), line, path)
  }
  for (const method of ['POST', 'PUT', 'DELETE']) {
    const res = await fetch(`${base}/api/status`, { method, body: method === 'DELETE' ? undefined : 'x' })
    assert.equal(res.status, 405, method)
  }
  // Huge headers, garbage bytes, a body where none is taken.
  const port = node.http?.port ?? 0
  assert.match(await raw(port, `GET /api/status HTTP/1.1\r\nHost: x\r\nCookie: ${'c'.repeat(100_000)}\r\n\r\n`), /^HTTP\/1\.1 431 /)
  assert.match(await raw(port, '\x00\x01\x02 garbage\r\n\r\n'), /^HTTP\/1\.1 400 /)
  assert.match(await raw(port, 'GET /api/status HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffff\r\n'), /^HTTP\/1\.1 400 [^]*a GET takes no body/)
  // Still answering, RPC too.
  assert.equal((await fetch(`${base}/api/status`)).status, 200)
  assert.equal(await rpc(node, 'getblockcount'), 3)
})

test('ten thousand event-stream clients in a bounded loop: past 100 open at once each is a 429, and the node stays responsive', async t => {
  const node = await startNode(t, { http: { host: '127.0.0.1', port: 0 }, minerAddress: newKey().address })
  const port = node.http?.port ?? 0
  const base = `http://${node.http?.address ?? ''}`
  const explorer = node.explorer
  assert.ok(explorer !== undefined)
  // 100 streams held open: the bound.
  const held: Socket[] = []
  t.after(() => { for (const s of held) s.destroy() })
  for (let i = 0; i < 100; i++) {
    const socket = connect(port, '127.0.0.1')
    held.push(socket)
    await new Promise<void>((resolve, reject) => {
      socket.once('data', chunk => {
        if (String(chunk).startsWith('HTTP/1.1 200 ')) resolve()
        else reject(new Error(String(chunk)))
      })
      socket.once('error', reject)
      socket.write('GET /api/events HTTP/1.1\r\nHost: x\r\n\r\n')
    })
  }
  assert.equal(explorer.events.clients, 100)
  // 10,000 more, 50 at a time: each refused with a clear 429, none held.
  const statuses = new Map<string, number>()
  let slowest = 0
  for (let round = 0; round < 200; round++) {
    const answers = await Promise.all(Array.from({ length: 50 }, async () => await raw(port, 'GET /api/events HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')))
    for (const a of answers) {
      const status = a.slice(0, a.indexOf('\r\n'))
      statuses.set(status, (statuses.get(status) ?? 0) + 1)
      assert.match(a, /too many event streams: at most 100 at once; try again later\n$/)
    }
    // The node answers meanwhile.
    if (round % 40 === 0) {
      const started = performance.now()
      assert.equal(await rpc(node, 'getblockcount'), node.chain.height)
      assert.equal((await fetch(`${base}/api/status`)).status, 200)
      slowest = Math.max(slowest, performance.now() - started)
    }
  }
  assert.deepEqual([...statuses], [['HTTP/1.1 429 Too Many Requests', 10_000]])
  t.diagnostic(`slowest RPC + status pair during the loop: ${slowest.toFixed(0)} ms`)
  // A block still reaches the held streams.
  const reading = held[0]
  const tip = new Promise<string>(resolve => {
    let text = ''
    reading.on('data', chunk => {
      text += String(chunk)
      if (text.includes('event: tip')) resolve(text)
    })
  })
  const [mined] = await rpc(node, 'generate', [1])
  assert.match(await tip, new RegExp(`event: tip\ndata: \\{"height":1,"id":"${mined}"`))
  // Closed streams free their places.
  for (const s of held) s.destroy()
  await waitFor(() => explorer.events.clients === 0, 'the streams to close')
  const again = await raw(port, 'GET /api/events HTTP/1.1\r\nHost: x\r\n\r\n', 1_000)
  assert.match(again, /^HTTP\/1\.1 200 OK/)
})
