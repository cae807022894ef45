/**
 * IPFS figures, each against a baseline in the same run: a stock Helia
 * fetching blocks' DAGs over bitswap from a coints node against the same from
 * another stock Helia holding them; the gateway's CAR of a whole chain against
 * reading the same objects from the blockstore in-process; a CAR export
 * imported into a fresh node against importing the same blocks locally.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createHelia } from 'helia'
import type { Blockstore } from 'interface-blockstore'
import { exportCar, importCar } from '../src/rpc/car-transfer.ts'
import { Header } from '../src/core/block.ts'
import type { CID } from '../src/core/cbor.ts'
import { blockObjects, decodeTxList } from '../src/ipfs/car.ts'
import { setLogLevel } from '../src/log.ts'
import { loopbackNodeOptions } from '../src/node/loopback.ts'
import { CointsNode } from '../src/node/node.ts'
import { median } from '../src/util/stats.ts'
import { chainDatadir, localImportMs } from './fixtures.ts'

setLogLevel('silent')

type StockHelia = ReturnType<typeof createHelia>

async function stockHelia (): Promise<StockHelia> {
  const helia = createHelia({
    libp2p: { addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] }, transports: [tcp()], peerDiscovery: [], services: { identify: identify() } },
    http: { delegatedRouters: [], recursiveGateways: [] }
  })
  await helia.start()
  return helia
}

async function bytesOf (store: Pick<Blockstore, 'get'>, cid: CID): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  for await (const chunk of store.get(cid)) chunks.push(chunk)
  return chunks.length === 1 ? chunks[0] : Uint8Array.from(Buffer.concat(chunks))
}

/** A block's whole DAG by its id, as a client walks it: the header, then its list, then its transactions. */
async function walkBlock (store: Pick<Blockstore, 'get'>, id: CID): Promise<number> {
  const header = Header.fromBytes(await bytesOf(store, id))
  const list = await bytesOf(store, header.data.txs)
  let bytes = header.bytes.length + list.length
  for (const tx of await Promise.all(decodeTxList(list).map(async cid => await bytesOf(store, cid)))) bytes += tx.length
  return bytes
}

/** Ms for a fresh stock Helia, dialed to `server`, to fetch every block's DAG, `concurrency` blocks at a time. */
async function fetchAll (server: string, ids: CID[], concurrency = 32): Promise<number> {
  const client = await stockHelia()
  try {
    await client.libp2p.dial(multiaddr(server))
    const start = performance.now()
    for (let at = 0; at < ids.length; at += concurrency) {
      await Promise.all(ids.slice(at, at + concurrency).map(async id => await walkBlock(client.blockstore, id)))
    }
    return performance.now() - start
  } finally {
    await client.stop()
  }
}

export interface BitswapBench { blocks: number, objects: number, cointsMs: number, heliaMs: number, ratio: number }

/** Rounds alternate between the two servers; medians. ratio = Helia's time over coints's (≥ 1: coints no slower). */
export async function benchBitswap (count = 1_000, rounds = 3): Promise<BitswapBench> {
  const fixture = await chainDatadir(count)
  const node = await CointsNode.create(loopbackNodeOptions(fixture.datadir))
  const holder = await stockHelia()
  try {
    await node.start()
    let objects = 0
    for (const block of fixture.blocks) {
      for (const { cid, bytes } of blockObjects(block)) {
        await holder.blockstore.put(cid, bytes)
        objects++
      }
    }
    const ids = fixture.blocks.map(b => b.id)
    const coints = String(node.p2p?.libp2p.getMultiaddrs()[0])
    const helia = String(holder.libp2p.getMultiaddrs()[0])
    const cointsMs: number[] = []
    const heliaMs: number[] = []
    for (let r = 0; r < rounds; r++) {
      cointsMs.push(await fetchAll(coints, ids))
      heliaMs.push(await fetchAll(helia, ids))
    }
    return { blocks: count, objects, cointsMs: median(cointsMs), heliaMs: median(heliaMs), ratio: median(heliaMs) / median(cointsMs) }
  } finally {
    await holder.stop()
    await node.stop()
    await rm(fixture.datadir, { recursive: true, force: true })
  }
}

export interface GatewayBench { blocks: number, mb: number, gatewayMBps: number, blockstoreMBps: number, ratio: number }

/** CAR dag-scope=all of the tip over HTTP, against walking the same DAG from the blockstore in this process; best of `rounds`, alternated. */
export async function benchGateway (count = 10_000, rounds = 3): Promise<GatewayBench> {
  const fixture = await chainDatadir(count)
  const node = await CointsNode.create(loopbackNodeOptions(fixture.datadir, { http: { host: '127.0.0.1', port: 0 } }))
  try {
    await node.start()
    const tip = node.chain.tip.id
    const url = `http://127.0.0.1:${node.http?.port ?? 0}/ipfs/${tip.toString()}?format=car&dag-scope=all`
    const gateway: number[] = []
    const local: number[] = []
    let carBytes = 0
    let dagBytes = 0
    for (let r = 0; r < rounds; r++) {
      let start = performance.now()
      const res = await fetch(url)
      carBytes = 0
      for await (const chunk of res.body ?? []) carBytes += (chunk as Uint8Array).length
      gateway.push(performance.now() - start)
      start = performance.now()
      dagBytes = 0
      const store = node.store.blockstore
      for (let id: CID | null = tip; id !== null;) {
        const header = Header.fromBytes(await bytesOf(store, id))
        dagBytes += await walkBlock(store, id)
        id = header.data.prev
      }
      local.push(performance.now() - start)
    }
    const gatewayMBps = carBytes / 1e6 / (Math.min(...gateway) / 1000)
    const blockstoreMBps = dagBytes / 1e6 / (Math.min(...local) / 1000)
    return { blocks: count + 1, mb: carBytes / 1e6, gatewayMBps, blockstoreMBps, ratio: gatewayMBps / blockstoreMBps }
  } finally {
    await node.stop()
    await rm(fixture.datadir, { recursive: true, force: true })
  }
}

export interface CarBench { blocks: number, carMb: number, exportMs: number, importMs: number, importBlocksPerSec: number, localBlocksPerSec: number, ratio: number }

/** coints export of `count` blocks, then coints import into a fresh node, against processBlock of the same blocks into a fresh chain (the sync benchmark's local import). */
export async function benchCar (count = 10_000): Promise<CarBench> {
  const fixture = await chainDatadir(count)
  const dirs = [fixture.datadir]
  const nodes: CointsNode[] = []
  try {
    const localMs = await localImportMs(fixture.blocks, dirs)
    const source = await CointsNode.create(loopbackNodeOptions(fixture.datadir))
    nodes.push(source)
    await source.start()
    const freshDir = await mkdtemp(join(tmpdir(), 'coints-bench-import-'))
    dirs.push(freshDir)
    const fresh = await CointsNode.create(loopbackNodeOptions(freshDir, { p2p: false }))
    nodes.push(fresh)
    await fresh.start()
    const file = join(freshDir, 'chain.car')
    let start = performance.now()
    await exportCar({ datadir: source.options.datadir, port: source.rpc.port }, file, {})
    const exportMs = performance.now() - start
    start = performance.now()
    const report = await importCar({ datadir: fresh.options.datadir, port: fresh.rpc.port }, file)
    const importMs = performance.now() - start
    if (report.failure !== undefined || report.refused.length > 0 || fresh.chain.tip.idString !== source.chain.tip.idString) throw new Error('the import did not reach the source\'s tip')
    const importBlocksPerSec = count / (importMs / 1000)
    const localBlocksPerSec = count / (localMs / 1000)
    return { blocks: count, carMb: (await stat(file)).size / 1e6, exportMs, importMs, importBlocksPerSec, localBlocksPerSec, ratio: importBlocksPerSec / localBlocksPerSec }
  } finally {
    for (const node of nodes) await node.stop()
    for (const dir of dirs) await rm(dir, { recursive: true, force: true })
  }
}

if (import.meta.main) {
  console.log(JSON.stringify(await benchBitswap(), null, 2))
  console.log(JSON.stringify(await benchGateway(), null, 2))
  console.log(JSON.stringify(await benchCar(), null, 2))
}
