/**
 * Networking figures on loopback TCP, nodes in this process: block propagation
 * across 10 nodes, and a fresh node's sync of 10,000 blocks from a peer against
 * the same node importing the same blocks from local data.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setLogLevel } from '../src/log.ts'
import { CointsNode } from '../src/node/node.ts'
import { loopbackNodeOptions } from '../src/node/loopback.ts'
import type { NodeOptions } from '../src/node/options.ts'
import { encodeAddress } from '../src/core/address.ts'
import { keyPairOf, randomPrivateKey } from '../src/core/keys.ts'
import { chainDatadir, localImportMs, regtest, spawnNode } from './fixtures.ts'
import { percentile } from '../src/util/stats.ts'
import { waitFor } from '../src/util/wait-for.ts'

setLogLevel('silent')

async function startNode (options: Partial<NodeOptions>, dirs: string[]): Promise<CointsNode> {
  const datadir = options.datadir ?? await mkdtemp(join(tmpdir(), 'coints-bench-node-'))
  dirs.push(datadir)
  const node = await CointsNode.create(loopbackNodeOptions(datadir, options))
  await node.start()
  return node
}

const addrOf = (node: CointsNode): string => String(node.p2p?.libp2p.getMultiaddrs()[0])

/** Polls often: the sync's time is read when its wait ends. */
const POLL_MS = 5

export interface PropagationBench { nodes: number, blocks: number, p50Ms: number, p99Ms: number }

/**
 * `options` go to every node; `watch` is run once the nodes are up (watchers to
 * attach: explorer clients, scrapes) and what it returns when they stop.
 */
export async function benchPropagation (count = 10, blocks = 30, options: Partial<NodeOptions> = {}, watch?: (nodes: CointsNode[]) => Promise<() => Promise<void>>): Promise<PropagationBench> {
  const dirs: string[] = []
  const nodes: CointsNode[] = []
  let unwatch: (() => Promise<void>) | undefined
  try {
    const address = encodeAddress(regtest.addressPrefix, keyPairOf(randomPrivateKey()).addressHash)
    nodes.push(await startNode({ ...options, minerAddress: address }, dirs))
    // Each node bootstraps from two earlier ones: a sparse mesh gossip has to cross.
    for (let i = 1; i < count; i++) nodes.push(await startNode({ ...options, bootstrap: [...new Set([addrOf(nodes[i - 1]), addrOf(nodes[Math.floor((i - 1) / 2)])])] }, dirs))
    await waitFor(() => nodes.every(n => (n.p2p?.libp2p.getPeers().length ?? 0) >= 1), 'peers', 20_000, POLL_MS)
    unwatch = await watch?.(nodes)
    // Let the gossip meshes form before measuring.
    await new Promise(resolve => setTimeout(resolve, 2_000))
    const latencies: number[] = []
    for (let b = 0; b < blocks; b++) {
      const arrived = new Map<CointsNode, number>()
      const listeners = nodes.map(n => {
        const listener = (): void => { if (!arrived.has(n)) arrived.set(n, performance.now()) }
        n.chain.on('tip', listener)
        return [n, listener] as const
      })
      const start = performance.now()
      await nodes[0].miner.mineBlocks(1, keyPairOf(randomPrivateKey()).addressHash)
      const id = nodes[0].chain.tip.idString
      await waitFor(() => nodes.every(n => n.chain.tip.idString === id), `block ${b} everywhere`, 20_000, POLL_MS)
      for (const [n, l] of listeners) n.chain.off('tip', l)
      latencies.push(Math.max(...nodes.map(n => arrived.get(n) ?? performance.now())) - start)
    }
    return { nodes: count, blocks, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99) }
  } finally {
    await unwatch?.()
    for (const n of nodes) await n.stop()
    for (const d of dirs) await rm(d, { recursive: true, force: true })
  }
}

export interface SyncBench { blocks: number, networkMs: number, localMs: number, networkBlocksPerSec: number, localBlocksPerSec: number, ratio: number }

export async function benchSync (count = 10_000): Promise<SyncBench> {
  const dirs: string[] = []
  const nodes: CointsNode[] = []
  const stops: Array<() => Promise<void>> = []
  const fixture = await chainDatadir(count)
  dirs.push(fixture.datadir)
  try {
    // Local baseline: the same blocks, from their wire bytes, into a fresh chain.
    const localMs = await localImportMs(fixture.blocks, dirs)

    // The source is a process of its own, as a peer would be, so serving does not share this event loop.
    const { host: source } = await spawnNode(fixture.datadir)
    stops.push(async () => { await source.stop() })
    const sourceAddr = (await source.rpc('getnetworkinfo')).addresses[0]
    // Timed from the fresh node's start (its chain is empty): it connects, then syncs.
    const start = performance.now()
    const fresh = await startNode({ bootstrap: [sourceAddr] }, dirs)
    nodes.push(fresh)
    await waitFor(() => fresh.chain.height >= count, 'the sync', 300_000, POLL_MS)
    const networkMs = performance.now() - start
    return {
      blocks: count,
      networkMs,
      localMs,
      networkBlocksPerSec: count / (networkMs / 1000),
      localBlocksPerSec: count / (localMs / 1000),
      ratio: localMs / networkMs
    }
  } finally {
    for (const n of nodes) await n.stop()
    for (const stop of stops) await stop()
    for (const d of dirs) await rm(d, { recursive: true, force: true })
  }
}

if (import.meta.main) {
  console.log(JSON.stringify(await benchPropagation(), null, 2))
  console.log(JSON.stringify(await benchSync(), null, 2))
}
