/**
 * How many nodes fit on this machine: swarms of 8, 16 and 32 loopback nodes,
 * partitioned and healed, with resident memory per node and block propagation p99.
 */
import { Swarm, type SwarmReport } from '../src/swarm/swarm.ts'

export async function benchSwarm (sizes = [8, 16, 32]): Promise<Array<Pick<SwarmReport, 'nodes' | 'converged' | 'rssPerNodeMb' | 'blockPropagationMs' | 'convergeAfterHealMs' | 'timeToPeersMs'>>> {
  const rows = []
  for (const nodes of sizes) {
    const r = await new Swarm({ nodes, miners: 2, mode: 'loopback', scenarios: ['steady', 'partition'], phaseSeconds: 10, blockIntervalMs: 1_000, txRate: 1, lateNodes: 0, seed: nodes }).run()
    rows.push({ nodes: r.nodes, converged: r.converged, rssPerNodeMb: r.rssPerNodeMb, blockPropagationMs: r.blockPropagationMs, convergeAfterHealMs: r.convergeAfterHealMs, timeToPeersMs: r.timeToPeersMs })
    console.log(JSON.stringify(rows.at(-1)))
  }
  return rows
}

if (import.meta.main) await benchSwarm()
