import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import type { CointsLibp2p } from '../src/p2p/libp2p-node.ts'
import { FramingError, writeFrame } from '../src/p2p/framing.ts'
import { STREAM_VERDICTS, StreamTransport } from '../src/p2p/stream-transport.ts'
import { BAN_WEIGHT, type PeerPolicy } from '../src/p2p/transport.ts'
import { createLogger, setLogLevel } from '../src/log.ts'
import { startLibp2p, waitFor } from './helpers/node-harness.ts'

setLogLevel('silent')

const bare = async (t: TestContext): Promise<CointsLibp2p> => await startLibp2p(t, { topics: [], messageId: () => new Uint8Array(32) })

/** A peer policy that records what it was told. */
function policy (): PeerPolicy & { offences: Array<{ peer: string, reason: string, weight: number }> } {
  const offences: Array<{ peer: string, reason: string, weight: number }> = []
  return { offences, penalise: (peer, reason, weight = 1) => { offences.push({ peer, reason, weight }) } }
}

test('a handler with two replies a peer serves six requests at once two at a time, and answers them all', async t => {
  const [server, client] = [await bare(t), await bare(t)]
  const protocol = '/coints-test/turns/1.0.0'
  let active = 0
  let most = 0
  let arrived = 0
  let release: () => void = () => {}
  // Each reply is held until a third would be made at once (never, with two turns), or 300 ms have passed.
  const third = new Promise<void>(resolve => { release = resolve })
  await new StreamTransport({ libp2p: server, peers: policy(), logger: createLogger('server') }).handle(protocol, async body => {
    active++
    arrived++
    most = Math.max(most, active)
    if (active > 2) release()
    await Promise.race([third, new Promise(resolve => setTimeout(resolve, 300))])
    active--
    return body
  }, { maxRequestBytes: 64, repliesPerPeer: 2 })
  await client.dial(server.getMultiaddrs()[0])
  const transport = new StreamTransport({ libp2p: client, peers: policy(), logger: createLogger('client') })
  const peer = server.peerId.toString()
  const replies = await Promise.all(Array.from({ length: 6 }, async (_, i) => await transport.request(peer, protocol, Uint8Array.of(i), { timeoutMs: 20_000, maxResponseBytes: 64 })))
  assert.deepEqual(replies.map(r => r[0]), [0, 1, 2, 3, 4, 5])
  assert.equal(arrived, 6)
  assert.ok(most <= 2, `${most} replies were made at once`)
})

test('a peer that asks and never reads its reply has it cut after the stall deadline, is penalised and disconnected', async t => {
  const [server, client] = [await bare(t), await bare(t)]
  const protocol = '/coints-test/stall/1.0.0'
  const peers = policy()
  // 4 MB, as a full blocks reply: far beyond what yamux sends before the reader's window closes.
  await new StreamTransport({ libp2p: server, peers, logger: createLogger('server') }, { replyStallMs: 300 }).handle(protocol, async () => new Uint8Array(4_000_000), { maxRequestBytes: 64 })
  await client.dial(server.getMultiaddrs()[0])
  const stream = await client.dialProtocol(server.peerId, protocol)
  await writeFrame(stream, new Uint8Array(1), { signal: AbortSignal.timeout(5_000) })
  // Paused: no more window updates, as from a peer that stopped reading its socket.
  stream.pause()
  const offence = await waitFor(() => peers.offences.find(o => o.reason.includes('REPLY_STALLED')), 'the stalled reply to be cut', 10_000)
  assert.equal(offence.peer, client.peerId.toString())
  assert.equal(offence.weight, STREAM_VERDICTS.REPLY_STALLED.weight)
  await waitFor(() => stream.status !== 'open', 'the stalled stream to be reset', 10_000)
  await waitFor(() => client.getConnections(server.peerId).length === 0, 'the stalling peer to be disconnected', 10_000)
})

test('a peer that opens a stream and sends no request is penalised at the read deadline; one that sends a bad prefix at once', async t => {
  const [server, client] = [await bare(t), await bare(t)]
  const protocol = '/coints-test/silent/1.0.0'
  const peers = policy()
  await new StreamTransport({ libp2p: server, peers, logger: createLogger('server') }, { requestReadMs: 300 }).handle(protocol, async body => body, { maxRequestBytes: 64 })
  await client.dial(server.getMultiaddrs()[0])
  const silent = await client.dialProtocol(server.peerId, protocol)
  const timeout = await waitFor(() => peers.offences.find(o => o.reason.includes('READ_TIMEOUT')), 'the silent stream to be penalised', 10_000)
  assert.equal(timeout.weight, STREAM_VERDICTS.READ_TIMEOUT.weight)
  await waitFor(() => silent.status !== 'open', 'the silent stream to be reset', 10_000)

  const bad = await client.dialProtocol(server.peerId, protocol)
  bad.send(Uint8Array.of(0x80, 0x80))
  const garbage = await waitFor(() => peers.offences.find(o => o.reason.includes('BAD_VARINT')), 'the bad prefix to be penalised', 10_000)
  assert.equal(garbage.weight, BAN_WEIGHT)
})

test('a reply over the asker\'s cap is refused at its prefix and penalised as garbage', async t => {
  const [server, client] = [await bare(t), await bare(t)]
  const protocol = '/coints-test/oversize/1.0.0'
  await new StreamTransport({ libp2p: server, peers: policy(), logger: createLogger('server') }).handle(protocol, async () => new Uint8Array(1_000), { maxRequestBytes: 64 })
  await client.dial(server.getMultiaddrs()[0])
  const peers = policy()
  const transport = new StreamTransport({ libp2p: client, peers, logger: createLogger('client') })
  await assert.rejects(transport.request(server.peerId.toString(), protocol, new Uint8Array(0), { timeoutMs: 10_000, maxResponseBytes: 999 }),
    (err: unknown) => err instanceof FramingError && err.code === 'FRAME_TOO_LONG')
  assert.deepEqual(peers.offences.map(o => [o.peer, o.weight]), [[server.peerId.toString(), BAN_WEIGHT]])
})
