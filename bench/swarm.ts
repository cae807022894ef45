/**
 * How many nodes fit on this machine: loopback swarms of 8, 16 and 32 nodes (64
 * with `node bench/swarm.ts 8 16 32 64`), a minute of steady mining (a block a
 * second, so that percentiles rest on some 50 blocks) then a 10 s partition and
 * the heal, with resident memory and CPU per node and block propagation.
 */
import { Swarm, type SwarmReport } from '../src/swarm/swarm.ts'
import type { TimelineEvent } from '../src/swarm/timeline.ts'

const TIMELINE: TimelineEvent[] = [{ at: 60, do: 'partition' }, { at: 70, do: 'heal' }, { at: 75, do: 'end' }]

type Row = Pick<SwarmReport, 'nodes' | 'converged' | 'rssPerNodeMb' | 'blockPropagationMs' | 'convergeAfterHealMs' | 'timeToPeersMs' | 'slowestPeerAfterStartMs' | 'cpuSecondsPerNodeMinute' | 'startCpuSecondsPerNode' | 'swarmCpuSecondsPerMinute'>

export async function benchSwarm (sizes = [8, 16, 32]): Promise<Row[]> {
  const rows: Row[] = []
  for (const nodes of sizes) {
    const r = await new Swarm({ nodes, miners: 2, mode: 'loopback', scenarios: [], timeline: TIMELINE, phaseSeconds: 10, blockIntervalMs: 1_000, txRate: 1, lateNodes: 0, seed: nodes }).run()
    rows.push({ nodes: r.nodes, converged: r.converged, rssPerNodeMb: r.rssPerNodeMb, blockPropagationMs: r.blockPropagationMs, convergeAfterHealMs: r.convergeAfterHealMs, timeToPeersMs: r.timeToPeersMs, slowestPeerAfterStartMs: r.slowestPeerAfterStartMs, cpuSecondsPerNodeMinute: r.cpuSecondsPerNodeMinute, startCpuSecondsPerNode: r.startCpuSecondsPerNode, swarmCpuSecondsPerMinute: r.swarmCpuSecondsPerMinute })
    console.log(JSON.stringify(rows.at(-1)))
  }
  return rows
}

if (import.meta.main) {
  const sizes = process.argv.slice(2).map(Number)
  await benchSwarm(sizes.length > 0 ? sizes : undefined)
}
