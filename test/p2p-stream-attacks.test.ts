/**
 * Hostile peers on the request/response protocols (issue 14, finding 1; garbage
 * requests of finding 5): real libp2p peers over loopback against a real node.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import type { Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { genesisBlock } from '../src/core/params.ts'
import type { CointsNode } from '../src/node/node.ts'
import type { CointsLibp2p } from '../src/p2p/libp2p-node.ts'
import { addrOf, regtest, rpc, startLibp2p, startNode, waitFor } from './helpers/node-harness.ts'

const prefix = `/coints/${regtest.name}/${genesisBlock(regtest).idString}`
const protocolOf = (name: string): string => `${prefix}/${name}/1.0.0`
/** What the old reader chewed through in about 6.5 s without yielding. */
const FLOOD_BYTES = 1024 * 1024
/** The bound for an RPC call during an attack (the old code took seconds). */
const RESPONSIVE_MS = 500

/** A bare libp2p peer connected to `node` from `host` (each attacker its own: a ban covers the address it came from). */
async function attackerOn (t: TestContext, node: CointsNode, host: string): Promise<CointsLibp2p> {
  const attacker = await startLibp2p(t, { topics: [], messageId: () => new Uint8Array(32), host })
  await attacker.dial(multiaddr(addrOf(node)))
  return attacker
}

const nodeId = (node: CointsNode): CointsLibp2p['peerId'] => {
  const id = node.p2p?.libp2p.peerId
  if (id === undefined) throw new Error('node has no p2p')
  return id
}

/** Sends 0x80 bytes (a length prefix that never ends) on `stream` until `limit` went or the stream ended. */
async function floodPrefix (stream: Stream, limit = FLOOD_BYTES): Promise<void> {
  const chunk = new Uint8Array(16 * 1024).fill(0x80)
  try {
    for (let sent = 0; sent < limit && stream.writeStatus === 'writable'; sent += chunk.length) {
      // Yielding either way, as a remote peer's bytes arrive: yamux takes more than its window without pushing back.
      if (stream.send(chunk)) await new Promise(resolve => setImmediate(resolve))
      else await stream.onDrain({ signal: AbortSignal.timeout(30_000) })
    }
  } catch {
    // Reset by the node: what we expect.
  }
}

/** RPC calls one after another until `attack` settles (three at least); the slowest in ms. */
async function slowestRpcDuring (node: CointsNode, attack: Promise<unknown>): Promise<number> {
  let over = false
  void attack.finally(() => { over = true })
  let slowest = 0
  for (let calls = 0; !over || calls < 3; calls++) {
    const start = performance.now()
    await rpc(node, 'getblockchaininfo')
    slowest = Math.max(slowest, performance.now() - start)
  }
  return slowest
}

const isBanned = (node: CointsNode, peer: CointsLibp2p): boolean => node.p2p?.bans.isBanned(peer.peerId.toString()) ?? false

test('a peer sending an endless length prefix on status, headers, blocks or tx is banned at its first bytes, and RPC answers throughout', async t => {
  const node = await startNode(t)
  for (const [n, name] of ['status', 'headers', 'blocks', 'tx'].entries()) {
    const attacker = await attackerOn(t, node, `127.0.0.${2 + n}`)
    const stream = await attacker.dialProtocol(nodeId(node), protocolOf(name))
    const slowest = await slowestRpcDuring(node, floodPrefix(stream))
    assert.ok(slowest < RESPONSIVE_MS, `an RPC call took ${Math.round(slowest)} ms during the ${name} attack`)
    await waitFor(() => isBanned(node, attacker), `the ${name} attacker to be banned`, 10_000)
    await waitFor(() => !node.p2p?.libp2p.getPeers().some(p => p.equals(attacker.peerId)), `the ${name} attacker to be disconnected`, 10_000)
  }
  assert.equal(node.chain.height, 0)
})

test('24 streams at once sending endless length prefixes: RPC answers throughout and the attacker is banned', async t => {
  const node = await startNode(t)
  const attacker = await attackerOn(t, node, '127.0.0.2')
  // Eight streams (the most a peer may open) on each of the sync protocols, all open before any of them sends.
  // One after another: yamux resets a connection that opens more than 10 streams before the first is acknowledged.
  const streams: Stream[] = []
  for (const name of ['status', 'headers', 'blocks']) {
    for (let i = 0; i < 8; i++) streams.push(await attacker.dialProtocol(nodeId(node), protocolOf(name)))
  }
  const slowest = await slowestRpcDuring(node, Promise.all(streams.map(async s => { await floodPrefix(s) })))
  assert.ok(slowest < RESPONSIVE_MS, `an RPC call took ${Math.round(slowest)} ms during the attack`)
  await waitFor(() => isBanned(node, attacker), 'the attacker to be banned', 10_000)
})

test('garbage requests on status, headers and blocks get their sender banned', async t => {
  const node = await startNode(t)
  for (const [n, name] of ['status', 'headers', 'blocks'].entries()) {
    const attacker = await attackerOn(t, node, `127.0.0.${2 + n}`)
    // Well-framed requests whose content does not decode, one after another (the old node served or logged 3,000 in 9.6 s).
    for (let sent = 0; sent < 200 && !isBanned(node, attacker); sent++) {
      try {
        const lp = lpStream(await attacker.dialProtocol(nodeId(node), protocolOf(name)))
        await lp.write(randomBytes(48))
        await lp.read({ signal: AbortSignal.timeout(5_000) })
      } catch {
        // Reset, or refused once banned.
      }
    }
    await waitFor(() => isBanned(node, attacker), `the ${name} garbage sender to be banned`, 10_000)
  }
})
