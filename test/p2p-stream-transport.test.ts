import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import type { CointsLibp2p } from '../src/p2p/libp2p-node.ts'
import { StreamTransport } from '../src/p2p/stream-transport.ts'
import { createLogger, setLogLevel } from '../src/log.ts'
import { startLibp2p } from './helpers/node-harness.ts'

setLogLevel('silent')

const bare = async (t: TestContext): Promise<CointsLibp2p> => await startLibp2p(t, { topics: [], messageId: () => new Uint8Array(32) })

test('a handler with two replies a peer serves six requests at once two at a time, and answers them all', async t => {
  const [server, client] = [await bare(t), await bare(t)]
  const protocol = '/coints-test/turns/1.0.0'
  let active = 0
  let most = 0
  let arrived = 0
  let release: () => void = () => {}
  // Each reply is held until a third would be made at once (never, with two turns), or 300 ms have passed.
  const third = new Promise<void>(resolve => { release = resolve })
  await new StreamTransport({ libp2p: server, logger: createLogger('server') }).handle(protocol, async body => {
    active++
    arrived++
    most = Math.max(most, active)
    if (active > 2) release()
    await Promise.race([third, new Promise(resolve => setTimeout(resolve, 300))])
    active--
    return body
  }, { maxRequestBytes: 64, repliesPerPeer: 2 })
  await client.dial(server.getMultiaddrs()[0])
  const transport = new StreamTransport({ libp2p: client, logger: createLogger('client') })
  const peer = server.peerId.toString()
  const replies = await Promise.all(Array.from({ length: 6 }, async (_, i) => await transport.request(peer, protocol, Uint8Array.of(i), { timeoutMs: 20_000, maxResponseBytes: 64 })))
  assert.deepEqual(replies.map(r => r[0]), [0, 1, 2, 3, 4, 5])
  assert.equal(arrived, 6)
  assert.ok(most <= 2, `${most} replies were made at once`)
})
