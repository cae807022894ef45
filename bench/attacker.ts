/**
 * A hostile peer for bench/attacks.ts, in a process of its own so that its work
 * does not count in the target's event loop. Runs one attack until its time is
 * up, with a new key for each connection the target refuses or drops, and
 * prints what it did as one JSON line. Argument: an AttackConfig as JSON.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Stream } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseCid } from '../src/core/cbor.ts'
import { setLogLevel } from '../src/log.ts'
import { BanList } from '../src/p2p/ban-list.ts'
import { writeFrame } from '../src/p2p/framing.ts'
import { createLibp2pNode, NO_NAT_TRAVERSAL, type CointsLibp2p } from '../src/p2p/libp2p-node.ts'
import { encodeBlocksRequest } from '../src/p2p/sync-messages.ts'
import { COOKIE_FILE } from '../src/rpc/server.ts'

export type AttackKind = 'prefix' | 'streams24' | 'garbage' | 'stall' | 'rpc-nested'

export interface AttackConfig {
  kind: AttackKind
  /** The target's multiaddr with its /p2p/ id. */
  target: string
  /** Protocols to attack, taken in turn. */
  protocols: string[]
  durationMs: number
  /** stall: the peers that ask and never read, and the blocks they ask for. */
  peers?: number
  blockIds?: string[]
  /** rpc-nested: the target's RPC. */
  rpc?: { datadir: string, port: number }
}

/** What the attacker did: connections made and refused, streams opened, request bytes sent (garbage and RPC). */
export interface AttackReport { connections: number, refused: number, streams: number, bytes: number }

setLogLevel('silent')
const report: AttackReport = { connections: 0, refused: 0, streams: 0, bytes: 0 }

async function peer (): Promise<CointsLibp2p> {
  return await createLibp2pNode({ privateKey: await generateKeyPair('Ed25519'), listen: [], bootstrap: [], mdns: false, maxPeers: 8, bans: new BanList(), topics: [], messageId: () => new Uint8Array(32), nat: { ...NO_NAT_TRAVERSAL, dhtProtocol: '/coints/attacker' } })
}

/** A new peer connected to the target, or undefined when the target refused it. */
async function connected (config: AttackConfig): Promise<CointsLibp2p | undefined> {
  const node = await peer()
  try {
    await node.dial(multiaddr(config.target), { signal: AbortSignal.timeout(5_000) })
    report.connections++
    return node
  } catch {
    report.refused++
    await node.stop()
    return undefined
  }
}

async function open (node: CointsLibp2p, config: AttackConfig, protocol: string): Promise<Stream> {
  const stream = await node.dialProtocol(multiaddr(config.target), protocol, { signal: AbortSignal.timeout(5_000) })
  report.streams++
  return stream
}

/** 0x80 bytes, a length prefix that never ends, until the stream ends or time is up. */
async function flood (stream: Stream, deadline: number): Promise<void> {
  const chunk = new Uint8Array(16 * 1024).fill(0x80)
  try {
    while (Date.now() < deadline && stream.writeStatus === 'writable') {
      // Yielding either way: yamux takes more than its window without pushing back, and the reset must get in.
      if (stream.send(chunk)) await new Promise(resolve => setImmediate(resolve))
      else await stream.onDrain({ signal: AbortSignal.timeout(Math.max(1, deadline - Date.now())) })
    }
  } catch {
    // Reset by the target.
  }
}

/** Runs `round` on fresh connections until time is up. */
async function reconnecting (config: AttackConfig, deadline: number, round: (node: CointsLibp2p) => Promise<void>): Promise<void> {
  while (Date.now() < deadline) {
    const node = await connected(config)
    if (node === undefined) continue
    try {
      await round(node)
    } catch {
      // The target dropped us: come back with a new key.
    }
    await node.stop()
  }
}

async function attack (config: AttackConfig): Promise<void> {
  const deadline = Date.now() + config.durationMs
  const { protocols } = config
  let turn = 0
  switch (config.kind) {
    case 'prefix':
      await reconnecting(config, deadline, async node => { await flood(await open(node, config, protocols[turn++ % protocols.length]), deadline) })
      return
    case 'streams24':
      await reconnecting(config, deadline, async node => {
        // One after another: yamux resets a connection that opens more than 10 streams before the first is acknowledged.
        const streams: Stream[] = []
        for (const protocol of protocols) for (let i = 0; i < 8; i++) streams.push(await open(node, config, protocol))
        await Promise.all(streams.map(async s => { await flood(s, deadline) }))
      })
      return
    case 'garbage':
      await reconnecting(config, deadline, async node => {
        while (Date.now() < deadline && node.getConnections().length > 0) {
          const stream = await open(node, config, protocols[turn++ % protocols.length])
          const garbage = randomBytes(48)
          await writeFrame(stream, garbage, { signal: AbortSignal.timeout(5_000) })
          report.bytes += garbage.length
          await stream.close({ signal: AbortSignal.timeout(5_000) }).catch(() => {})
        }
      })
      return
    case 'stall': {
      const request = encodeBlocksRequest((config.blockIds ?? []).map(parseCid))
      const nodes: CointsLibp2p[] = []
      for (let i = 0; i < (config.peers ?? 16); i++) {
        const node = await connected(config)
        if (node === undefined) continue
        nodes.push(node)
        // As many requests as a peer may have open; then it reads nothing.
        for (let s = 0; s < 8; s++) {
          const stream = await open(node, config, protocols[0])
          await writeFrame(stream, request, { signal: AbortSignal.timeout(5_000) })
          stream.pause()
        }
      }
      await new Promise(resolve => setTimeout(resolve, Math.max(0, deadline - Date.now())))
      for (const node of nodes) await node.stop()
      return
    }
    case 'rpc-nested': {
      const rpc = config.rpc
      if (rpc === undefined) throw new Error('rpc-nested needs the target\'s rpc')
      const cookie = (await readFile(join(rpc.datadir, COOKIE_FILE), 'utf8')).trim()
      // 8 MB: 4 million arrays nested in each other.
      const body = '['.repeat(4_000_000) + ']'.repeat(4_000_000)
      while (Date.now() < deadline) {
        try {
          const res = await fetch(`http://127.0.0.1:${rpc.port}/`, { method: 'POST', headers: { Authorization: `Basic ${Buffer.from(cookie).toString('base64')}` }, body })
          await res.text()
          report.streams++
          report.bytes += body.length
        } catch {
          report.refused++
        }
      }
    }
  }
}

const config = JSON.parse(process.argv[2]) as AttackConfig
// Deadlines are AbortSignal timeouts, which do not keep a process alive on their own.
const alive = setTimeout(() => {}, config.durationMs + 60_000)
await attack(config)
clearTimeout(alive)
console.log(JSON.stringify(report))
process.exit(0)
