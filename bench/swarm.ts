/**
 * How many nodes fit on this machine: loopback swarms of 8, 16 and 32 nodes (64
 * with `node bench/swarm.ts 8 16 32 64`), a minute of steady mining (a block a
 * second, so that percentiles rest on some 50 blocks) then a 10 s partition and
 * the heal, with resident memory and CPU per node and block propagation.
 * `--nodes-per-process 1,8` runs each size with each hosting in turn (default:
 * the swarm's choice), so that they are compared in one run.
 */
import { loadavg } from 'node:os'
import { parseArgs } from 'node:util'
import { Swarm, type SwarmReport } from '../src/swarm/swarm.ts'
import type { TimelineEvent } from '../src/swarm/timeline.ts'

const TIMELINE: TimelineEvent[] = [{ at: 60, do: 'partition' }, { at: 70, do: 'heal' }, { at: 75, do: 'end' }]

type Row = Pick<SwarmReport, 'nodes' | 'nodesPerProcess' | 'processes' | 'converged' | 'rssPerNodeMb' | 'blockPropagationMs' | 'convergeAfterHealMs' | 'timeToPeersMs' | 'slowestPeerAfterStartMs' | 'cpuSecondsPerNodeMinute' | 'startCpuSecondsPerNode' | 'swarmCpuSecondsPerMinute'> & { load: number }

export async function benchSwarm (sizes = [8, 16, 32], hostings: Array<number | undefined> = [undefined]): Promise<Row[]> {
  const rows: Row[] = []
  for (const nodes of sizes) {
    for (const nodesPerProcess of hostings) {
      const r = await new Swarm({ nodes, miners: 2, mode: 'loopback', scenarios: [], timeline: TIMELINE, phaseSeconds: 10, blockIntervalMs: 1_000, txRate: 1, lateNodes: 0, seed: nodes, nodesPerProcess }).run()
      const load = Number(loadavg()[0].toFixed(1))
      rows.push({ nodes: r.nodes, nodesPerProcess: r.nodesPerProcess, processes: r.processes, converged: r.converged, rssPerNodeMb: r.rssPerNodeMb, blockPropagationMs: r.blockPropagationMs, convergeAfterHealMs: r.convergeAfterHealMs, timeToPeersMs: r.timeToPeersMs, slowestPeerAfterStartMs: r.slowestPeerAfterStartMs, cpuSecondsPerNodeMinute: r.cpuSecondsPerNodeMinute, startCpuSecondsPerNode: r.startCpuSecondsPerNode, swarmCpuSecondsPerMinute: r.swarmCpuSecondsPerMinute, load })
      console.log(JSON.stringify(rows.at(-1)))
    }
  }
  return rows
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({ options: { 'nodes-per-process': { type: 'string' } }, allowPositionals: true })
  const sizes = positionals.map(Number)
  const hostings = values['nodes-per-process']?.split(',').map(Number)
  await benchSwarm(sizes.length > 0 ? sizes : undefined, hostings)
}
