import { collectDefaultMetrics, Gauge, type Registry } from 'prom-client'
import { registerChainMetrics, type ChainMetricsSource, type MempoolMetricsSource } from '../chain/metrics.ts'
import type { Miner } from '../miner/miner.ts'
import { registerMinerMetrics } from '../miner/metrics.ts'
import { registerP2PMetrics } from '../p2p/metrics.ts'
import type { P2PService } from '../p2p/p2p-service.ts'
import { VERSION } from '../util/version.ts'

/**
 * One registry for a node's metrics: each service's own (src/chain, src/p2p,
 * src/miner: metrics.ts, from events and figures they keep), the process's
 * (prom-client's defaults: CPU, resident memory, heap, event-loop lag, GC),
 * coints_info, into `registry`; libp2p's own are added to it when networking
 * starts (NetworkOptions.metrics, src/node/build-network.ts). A registry of its own, never prom-client's global one:
 * tests and benchmarks run several nodes in one process.
 */
export function createNodeMetrics (registry: Registry, network: string, parts: { chain: ChainMetricsSource, mempool: MempoolMetricsSource, miner: Miner, p2p: P2PService | undefined }): Registry {
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 })
  const info = new Gauge({ name: 'coints_info', help: 'The node\'s version and network (always 1)', labelNames: ['version', 'network'], registers: [registry] })
  info.set({ version: VERSION, network }, 1)
  registerChainMetrics(registry, parts.chain, parts.mempool)
  registerMinerMetrics(registry, parts.miner)
  const { p2p } = parts
  if (p2p !== undefined) registerP2PMetrics(registry, p2p)
  return registry
}
