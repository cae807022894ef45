import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { transportOf } from '../src/p2p/addresses.ts'
import { addrOf, newKey, rpc, startNode, waitFor } from './helpers/node-harness.ts'

interface Conn { direction: string, transport: string, limited: boolean, rttMs: number | null, bytesIn: number | null, bytesOut: number | null, startTime: number }
interface Peer { peerId: string, height: number | null, connections: Conn[] }

test('getpeerinfo lists a peer connected both ways once, with both connections, and its height from the blocks it relays', async t => {
  // Status polls a minute apart: a height seen only through them would stay stale.
  const a = await startNode(t, { statusIntervalMs: 60_000 })
  const b = await startNode(t, { statusIntervalMs: 60_000, minerAddress: newKey().address })
  await a.p2p?.libp2p.dial(multiaddr(addrOf(b)))
  await b.p2p?.libp2p.dial(multiaddr(addrOf(a)), { force: true })
  const peers = await waitFor(async () => {
    const list = await rpc(a, 'getpeerinfo') as Peer[]
    return list[0]?.connections.length === 2 ? list : undefined
  }, 'a to hold two connections to b')
  assert.equal(peers.length, 1, 'one entry for the peer')
  assert.deepEqual(peers[0].connections.map(c => c.direction).sort(), ['inbound', 'outbound'])
  for (const c of peers[0].connections) {
    assert.equal(c.transport, 'tcp')
    assert.equal(c.limited, false)
    assert.ok(c.startTime > Date.now() - 60_000 && c.startTime <= Date.now())
    assert.ok(typeof c.bytesIn === 'number' && typeof c.bytesOut === 'number')
  }
  await waitFor(async () => (await rpc(a, 'getpeerinfo') as Peer[])[0]?.height === 0, 'b\'s status at height 0')
  // Gossip from b makes its height known at once, not at the next status poll.
  await rpc(b, 'generate', [2])
  await waitFor(async () => a.chain.height === 2, 'a to receive b\'s blocks')
  const [peer] = await rpc(a, 'getpeerinfo') as Peer[]
  assert.equal(peer.height, 2)
  assert.ok(peer.connections.some(c => (c.bytesIn ?? 0) > 0 && (c.bytesOut ?? 0) > 0), 'bytes counted both ways')
})

test('getnetworkinfo reports reachability, addresses, port mappings and relays', async t => {
  const node = await startNode(t, { upnp: false })
  const info = await rpc(node, 'getnetworkinfo') as { reachability: string, listen: string[], announced: string[], portMappings: unknown[], relayReservations: unknown[], relayService: { enabled: boolean, running: boolean } }
  // Alone on loopback: no AutoNAT server has been met, so nothing is known yet.
  assert.equal(info.reachability, 'unknown')
  assert.ok(info.listen.some(a => a.startsWith('/ip4/127.0.0.1/tcp/')))
  assert.deepEqual(info.portMappings, [])
  assert.deepEqual(info.relayReservations, [])
  assert.deepEqual(info.relayService, { enabled: true, running: false, reservations: 0 })
})

test('one name for each transport: a circuit through a relay, WebRTC signalled through one (direct all the same), TCP, anything else', async () => {
  const [relay, peer] = await Promise.all([1, 2].map(async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()))
  const through = `/ip4/203.0.113.5/tcp/9444/p2p/${relay}/p2p-circuit`
  assert.equal(transportOf(multiaddr(`${through}/p2p/${peer}`)), 'circuit')
  assert.equal(transportOf(multiaddr(`${through}/webrtc/p2p/${peer}`)), 'webrtc')
  assert.equal(transportOf(multiaddr(`/ip4/203.0.113.5/tcp/9444/p2p/${peer}`)), 'tcp')
  assert.equal(transportOf(multiaddr('/ip4/203.0.113.5/udp/9444/quic-v1')), 'other')
})

test('the explorer\'s peers and the coints_peers metric see a peer as getpeerinfo does: once, by the connection it is reached by', async t => {
  const a = await startNode(t, { http: { host: '127.0.0.1', port: 0 } })
  const b = await startNode(t)
  await a.p2p?.libp2p.dial(multiaddr(addrOf(b)))
  await b.p2p?.libp2p.dial(multiaddr(addrOf(a)), { force: true })
  const [info] = await waitFor(async () => {
    const list = await rpc(a, 'getpeerinfo') as Array<Peer & { addr: string, direction: string }>
    return list[0]?.connections.length === 2 ? list : undefined
  }, 'a to hold two connections to b')
  const base = `http://${a.http?.address ?? ''}`
  const page = await (await fetch(`${base}/api/peers`)).json() as { peers: Array<{ peerId: string, addr: string, direction: string, transport: string }> }
  assert.deepEqual(page.peers.map(p => [p.peerId, p.addr, p.direction, p.transport]), [[info.peerId, info.addr, info.direction, 'tcp']])
  const metrics = await (await fetch(`${base}/metrics`)).text()
  const counted = [...metrics.matchAll(/^coints_peers\{direction="(\w+)",transport="(\w+)"\} (\d+)$/gm)].filter(m => m[3] !== '0')
  assert.deepEqual(counted.map(m => [m[1], m[2], m[3]]), [[info.direction, 'tcp', '1']])
})
