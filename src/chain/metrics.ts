import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import type { ChainReader, MempoolView } from './ports.ts'
import { listenTo } from './listen.ts'
import type { BlockProcessed, TipChange, TxRefused } from './types.ts'

/** What the chain's metrics read: its events and a few figures, at scrape time. */
export type ChainMetricsSource = Pick<ChainReader, 'on' | 'off' | 'tip' | 'height' | 'orphanCount' | 'utxoSummary'>
/** What they read of the mempool, at scrape time. */
export type MempoolMetricsSource = Pick<MempoolView, 'size' | 'bytes' | 'usage' | 'maxBytes' | 'minFeeRate'>

/** Seconds: a warm block takes milliseconds, a cold full one a few hundred, a stalled disk more. */
const VALIDATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
const REORG_DEPTH_BUCKETS = [1, 2, 3, 4, 6, 10, 20, 50, 100]

/**
 * The chain's Prometheus metrics, from its events ('block:processed', 'tip',
 * 'tx:accepted', 'tx:refused') and, at scrape time, its figures: the chain
 * itself needs no registry. Returns the function that detaches them.
 */
export function registerChainMetrics (registry: Registry, chain: ChainMetricsSource, mempool: MempoolMetricsSource): () => void {
  const registers = [registry]
  const now = (): number => Date.now() / 1000
  new Gauge({ name: 'coints_height', help: 'Height of the best chain\'s tip', registers, collect () { this.set(chain.height) } })
  new Gauge({ name: 'coints_tip_timestamp_seconds', help: 'Timestamp of the best chain\'s tip (its header\'s time)', registers, collect () { this.set(chain.tip.time) } })
  new Gauge({ name: 'coints_tip_age_seconds', help: 'Seconds since the tip\'s timestamp', registers, collect () { this.set(Math.max(0, now() - chain.tip.time)) } })
  new Gauge({ name: 'coints_orphan_blocks', help: 'Blocks held whose parent is unknown', registers, collect () { this.set(chain.orphanCount) } })
  new Gauge({ name: 'coints_utxo_outputs', help: 'Unspent transaction outputs', registers, collect () { this.set(chain.utxoSummary().txouts) } })
  new Gauge({ name: 'coints_mempool_transactions', help: 'Transactions in the mempool', registers, collect () { this.set(mempool.size) } })
  new Gauge({ name: 'coints_mempool_bytes', help: 'Serialised bytes of the mempool\'s transactions', registers, collect () { this.set(mempool.bytes) } })
  new Gauge({ name: 'coints_mempool_usage_bytes', help: 'Estimated memory of the mempool, which --mempool-max-bytes bounds', registers, collect () { this.set(mempool.usage) } })
  new Gauge({ name: 'coints_mempool_max_usage_bytes', help: 'The mempool\'s memory bound (--mempool-max-bytes)', registers, collect () { this.set(mempool.maxBytes) } })
  new Gauge({ name: 'coints_mempool_min_fee_rate', help: 'Lowest fee rate the mempool takes, in base units per byte', registers, collect () { this.set(mempool.minFeeRate) } })

  const reorgs = new Counter({ name: 'coints_reorganisations_total', help: 'Reorganisations: best-chain changes that disconnected blocks', registers })
  const reorgDepth = new Histogram({ name: 'coints_reorganisation_depth_blocks', help: 'Blocks disconnected by each reorganisation', buckets: REORG_DEPTH_BUCKETS, registers })
  const orphans = new Counter({ name: 'coints_orphan_blocks_total', help: 'Blocks that arrived before their parent', registers })
  const accepted = new Counter({ name: 'coints_blocks_accepted_total', help: 'Blocks stored, by where they went: connected (best chain) or side (a branch with less work)', labelNames: ['status'], registers })
  const refused = new Counter({ name: 'coints_blocks_refused_total', help: 'Blocks refused as invalid, by error code', labelNames: ['code'], registers })
  const validation = new Histogram({ name: 'coints_block_validation_seconds', help: 'Time to validate a stored block, by stage (sanity, context, store, connect) and in all (total)', labelNames: ['stage'], buckets: VALIDATION_BUCKETS, registers })
  const txAccepted = new Counter({ name: 'coints_transactions_accepted_total', help: 'Transactions the mempool took', registers })
  const txRefused = new Counter({ name: 'coints_transactions_refused_total', help: 'Transactions the mempool refused, by error code', labelNames: ['code'], registers })
  for (const status of ['connected', 'side']) accepted.inc({ status }, 0)

  const onProcessed = (p: BlockProcessed): void => {
    if (p.status === 'orphan') orphans.inc()
    if (p.status === 'invalid') refused.inc({ code: p.code ?? 'UNKNOWN' })
    if (p.status !== 'connected' && p.status !== 'side') return
    accepted.inc({ status: p.status })
    for (const [stage, seconds] of Object.entries(p.stages)) validation.observe({ stage }, seconds)
    validation.observe({ stage: 'total' }, p.seconds)
  }
  const onTip = (change: TipChange): void => {
    if (change.disconnected.length === 0) return
    reorgs.inc()
    reorgDepth.observe(change.disconnected.length)
  }
  const onAccepted = (): void => { txAccepted.inc() }
  const onRefused = (r: TxRefused): void => { txRefused.inc({ code: r.code }) }
  return listenTo(chain, { 'block:processed': onProcessed, tip: onTip, 'tx:accepted': onAccepted, 'tx:refused': onRefused })
}
