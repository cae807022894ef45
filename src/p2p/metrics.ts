import { Counter, Gauge, type Registry } from 'prom-client'
import type { P2PService } from './p2p-service.ts'
import { preferredConnection } from './peer-report.ts'

/**
 * Networking's Prometheus metrics, read at scrape time from what the service
 * keeps anyway (connections, the gossip's verdict counts, the ban list, the
 * sync's progress): peers by direction and transport, gossip verdicts by
 * topic, bans, the best header and the sync. libp2p's own metrics come from
 * @libp2p/prometheus-metrics, given the same registry (NetworkOptions.metrics, src/node/build-network.ts).
 */
export function registerP2PMetrics (registry: Registry, p2p: Pick<P2PService, 'connectedPeers' | 'gossip' | 'bans' | 'sync'>): void {
  const registers = [registry]
  new Gauge({
    name: 'coints_peers',
    help: 'Connected peers, by the direction (inbound, outbound) and transport (tcp, webrtc, circuit, other) of the connection each is reached by',
    labelNames: ['direction', 'transport'],
    registers,
    collect () {
      this.reset()
      for (const direction of ['inbound', 'outbound']) this.set({ direction, transport: 'tcp' }, 0)
      const counts = new Map<string, { direction: string, transport: string, n: number }>()
      for (const peer of p2p.connectedPeers()) {
        const { transport } = preferredConnection(peer)
        const key = `${peer.direction} ${transport}`
        const c = counts.get(key) ?? { direction: peer.direction, transport, n: 0 }
        c.n++
        counts.set(key, c)
      }
      for (const { direction, transport, n } of counts.values()) this.set({ direction, transport }, n)
    }
  })
  new Counter({
    name: 'coints_gossip_messages_total',
    help: 'Gossip messages validated, by topic (blocks, txs) and verdict (accept: forwarded; ignore: dropped; reject: dropped and counted against the sender)',
    labelNames: ['topic', 'verdict'],
    registers,
    collect () {
      // The counts are kept by the gossip: each scrape sets them as they are.
      this.reset()
      for (const [topic, verdicts] of Object.entries(p2p.gossip.verdicts)) {
        for (const [verdict, n] of Object.entries(verdicts)) this.inc({ topic, verdict }, n)
      }
    }
  })
  new Counter({
    name: 'coints_bans_total',
    help: 'Bans given since start (for offences or by setban), by kind: peer (a key) or address (a subnet)',
    labelNames: ['kind'],
    registers,
    collect () {
      this.reset()
      for (const [kind, n] of Object.entries(p2p.bans.given)) this.inc({ kind }, n)
    }
  })
  new Gauge({
    name: 'coints_banned',
    help: 'Bans in force, by kind',
    labelNames: ['kind'],
    registers,
    collect () {
      const bans = p2p.bans.list()
      for (const kind of ['peer', 'address']) this.set({ kind }, bans.filter(b => b.kind === kind).length)
    }
  })
  new Gauge({ name: 'coints_headers_height', help: 'Height of the best header known (ahead of the tip while syncing)', registers, collect () { this.set(p2p.sync.headersHeight) } })
  new Gauge({ name: 'coints_sync_target_height', help: 'The height the sync under way leads to (0: none)', registers, collect () { this.set(p2p.sync.progress.state?.target ?? 0) } })
  new Counter({
    name: 'coints_sync_blocks_total',
    help: 'Blocks connected by syncs from peers (rate() is the sync\'s blocks per second)',
    registers,
    collect () {
      this.reset()
      this.inc(p2p.sync.progress.blocks)
    }
  })
}
