import { Counter, Gauge, type Registry } from 'prom-client'
import type { Miner } from './miner.ts'

/** The miner's Prometheus metrics, read at scrape time: hashes tried (rate() is the hash rate) and whether it mines. */
export function registerMinerMetrics (registry: Registry, miner: Pick<Miner, 'mining' | 'searcher'>): void {
  const registers = [registry]
  new Counter({
    name: 'coints_miner_hashes_total',
    help: 'Block header hashes the miner tried (continuous mining and generate); rate() is its hash rate',
    registers,
    collect () {
      this.reset()
      this.inc(miner.searcher.hashes)
    }
  })
  new Gauge({ name: 'coints_miner_mining', help: '1 while the node mines continuously (--mine), else 0', registers, collect () { this.set(miner.mining ? 1 : 0) } })
  new Gauge({ name: 'coints_miner_threads', help: 'Nonce-search threads', registers, collect () { this.set(miner.searcher.threads) } })
}
