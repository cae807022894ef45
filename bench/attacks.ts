/**
 * A node under the hostile-peer attacks of issue 14, against the same node
 * idle in the same run: event-loop delay (p99 and max of
 * perf_hooks.monitorEventLoopDelay) and RPC latency while each attack runs from
 * a process of its own (bench/attacker.ts); and the reply bytes that 16 peers
 * asking for full blocks and never reading pin over time.
 */
import { spawn } from 'node:child_process'
import { rm } from 'node:fs/promises'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { genesisBlock } from '../src/core/params.ts'
import { setLogLevel } from '../src/log.ts'
import { CointsNode } from '../src/node/node.ts'
import { loopbackNodeOptions } from '../src/node/loopback.ts'
import { rpcClient } from '../src/rpc/client.ts'
import type { AttackConfig, AttackReport } from './attacker.ts'
import { fullBlocksDatadir, regtest } from './fixtures.ts'
import { percentile } from '../src/util/stats.ts'

setLogLevel('silent')

const ATTACKER = new URL('./attacker.ts', import.meta.url).pathname
const PHASE_MS = 5_000
/** How long the stall phase watches 16 peers that never read (the old node let go after 30 s). */
const STALL_MS = 35_000

export interface PhaseFigures { loopP99Ms: number, loopMaxMs: number, rpcP99Ms: number, rpcMaxMs: number, rpcCalls: number, attacker?: AttackReport }
export interface StallFigures { peers: number, pinnedMbAt: Record<string, number>, peakMb: number, mbSeconds: number }
export interface AttacksBench { phases: Record<string, PhaseFigures>, stall: StallFigures }

function runAttacker (config: AttackConfig): Promise<AttackReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [ATTACKER, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString() })
    child.on('error', reject)
    child.on('exit', code => {
      if (code === 0) resolve(JSON.parse(out) as AttackReport)
      else reject(new Error(`attacker ${config.kind} exited with ${code}`))
    })
  })
}

/** Event-loop delay and RPC latency of `node` while `attack` runs (or for PHASE_MS when there is none). */
async function measure (node: CointsNode, attack: Promise<AttackReport> | undefined): Promise<PhaseFigures> {
  const loop = monitorEventLoopDelay({ resolution: 10 })
  loop.enable()
  const latencies: number[] = []
  let over = false
  const ended = attack ?? new Promise<undefined>(resolve => setTimeout(() => { resolve(undefined) }, PHASE_MS))
  void ended.finally(() => { over = true })
  const rpc = rpcClient({ datadir: node.options.datadir, port: node.rpc.port })
  while (!over) {
    const start = performance.now()
    await rpc('getblockchaininfo')
    latencies.push(performance.now() - start)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  loop.disable()
  const attacker = await ended
  return { loopP99Ms: loop.percentile(99) / 1e6, loopMaxMs: loop.max / 1e6, rpcP99Ms: percentile(latencies, 99), rpcMaxMs: Math.max(...latencies), rpcCalls: latencies.length, ...(attacker === undefined ? {} : { attacker }) }
}

/** Reply bytes the node holds for peers that have not read them: what its streams have left to write. */
function pinnedBytes (node: CointsNode): number {
  return (node.p2p?.libp2p.getConnections() ?? []).reduce((sum, c) => sum + c.streams.reduce((s, stream) => s + stream.writeBufferLength, 0), 0)
}

async function measureStall (node: CointsNode, target: string, blocks: string, ids: string[]): Promise<StallFigures> {
  const peers = 16
  const attack = runAttacker({ kind: 'stall', target, protocols: [blocks], durationMs: STALL_MS, peers, blockIds: ids })
  const samples: Array<{ at: number, mb: number }> = []
  const start = performance.now()
  let over = false
  void attack.finally(() => { over = true })
  while (!over) {
    samples.push({ at: performance.now() - start, mb: pinnedBytes(node) / 1e6 })
    await new Promise(resolve => setTimeout(resolve, 250))
  }
  await attack
  const at = (s: number): number => samples.find(x => x.at >= s * 1000)?.mb ?? 0
  return {
    peers,
    pinnedMbAt: Object.fromEntries([5, 10, 15, 20, 25, 30].map(s => [`${s}s`, at(s)])),
    peakMb: Math.max(...samples.map(s => s.mb)),
    mbSeconds: samples.reduce((sum, s, i) => sum + s.mb * ((samples[i + 1]?.at ?? s.at) - s.at) / 1000, 0)
  }
}

export async function benchAttacks (): Promise<AttacksBench> {
  // About 4.5 MB of full blocks: a blocks reply stops at 4 MB, as large as one gets.
  const fixture = await fullBlocksDatadir(4_500_000)
  const node = await CointsNode.create(loopbackNodeOptions(fixture.datadir))
  const dirs = [fixture.datadir]
  try {
    await node.start()
    const target = String(node.p2p?.libp2p.getMultiaddrs()[0])
    const prefix = `/coints/${regtest.name}/${genesisBlock(regtest).idString}`
    const protocol = (name: string): string => `${prefix}/${name}/1.0.0`
    const attack = (kind: AttackConfig['kind'], names: string[]): Promise<AttackReport> =>
      runAttacker({ kind, target, protocols: names.map(protocol), durationMs: PHASE_MS, rpc: { datadir: node.options.datadir, port: node.rpc.port } })
    const phases: Record<string, PhaseFigures> = {}
    phases.idle = await measure(node, undefined)
    for (const name of ['status', 'headers', 'blocks', 'tx']) phases[`prefix-${name}`] = await measure(node, attack('prefix', [name]))
    phases['streams-24'] = await measure(node, attack('streams24', ['status', 'headers', 'blocks']))
    phases.garbage = await measure(node, attack('garbage', ['status', 'headers', 'blocks']))
    phases['rpc-nested'] = await measure(node, attack('rpc-nested', []))
    phases.after = await measure(node, undefined)
    const stall = await measureStall(node, target, protocol('blocks'), fixture.ids.map(String))
    return { phases, stall }
  } finally {
    await node.stop()
    for (const d of dirs) await rm(d, { recursive: true, force: true })
  }
}

if (import.meta.main) console.log(JSON.stringify(await benchAttacks(), null, 2))
