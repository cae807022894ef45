import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { circuitRelayServer } from '@libp2p/circuit-relay-v2'
import { multiaddr } from '@multiformats/multiaddr'
import { RELAY_LIMITS } from '../src/p2p/libp2p-node.ts'
import { newKey, rpc, startNode, waitFor } from './helpers/node-harness.ts'

interface Conn { transport: string, limited: boolean, rttMs: number | null }
interface Peer { peerId: string, connections: Conn[] }

test('two nodes joined only through a relay gossip blocks and sync over the relayed connection, within the relay\'s limits', async t => {
  // A bare relay with coints' limits: it speaks no coints protocol and joins no gossip topic, so whatever reaches
  // one node from the other crossed the relayed connection.
  const relay = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: {
      identify: identify(),
      relay: circuitRelayServer({ reservations: { defaultDurationLimit: RELAY_LIMITS.durationMs, defaultDataLimit: RELAY_LIMITS.bytes } })
    }
  })
  t.after(async () => { await relay.stop() })
  const relayAddr = relay.getMultiaddrs()[0].toString()
  // Neither node listens on TCP: the relay is the only way to either (and DCUtR has no address to punch to).
  const node = async (miner: boolean): Promise<Awaited<ReturnType<typeof startNode>>> => await startNode(t, {
    listen: [],
    bootstrap: [relayAddr],
    relayClient: 'on',
    // Status polls a minute apart: the new block below can only come by gossip.
    statusIntervalMs: 60_000,
    ...(miner ? { minerAddress: newKey().address } : {})
  })
  const x = await node(true)
  // A chain of a few hundred blocks for the other node to sync.
  await rpc(x, 'generate', [300])
  const circuit = await waitFor(() => x.p2p?.libp2p.getMultiaddrs().find(a => a.toString().includes('/p2p-circuit')), 'x to reserve on the relay', 30_000)
  const y = await node(false)
  await y.p2p?.libp2p.dial(multiaddr(circuit.toString()))
  const xId = x.p2p?.libp2p.peerId.toString()

  await waitFor(() => y.chain.height === 300 ? true : undefined, `y to sync x's 300 blocks through the relay`, 60_000)
  const [id] = await rpc(x, 'generate', [1]) as string[]
  await waitFor(() => y.chain.tip.idString === id ? true : undefined, 'x\'s new block to reach y by gossip through the relay', 30_000)
  // All of it crossed the one relayed connection: the pair never had another. Its round-trip time comes with libp2p's
  // connection monitor's first ping (every 10 s).
  const peer = await waitFor(async () => (await rpc(y, 'getpeerinfo') as Peer[]).find(p => p.peerId === xId && p.connections.every(c => c.rttMs !== null)), 'y to know its round-trip time to x', 30_000)
  assert.deepEqual(peer.connections.map(c => [c.transport, c.limited]), [['circuit', true]])
  const traffic = (await rpc(y, 'getnetworkinfo') as { traffic: { relayed: number, direct: number } }).traffic
  assert.ok(traffic.relayed > 300 * 100 && traffic.relayed < Number(RELAY_LIMITS.bytes), `the sync's bytes came relayed, within the relay's data limit: ${JSON.stringify(traffic)}`)
})
