import type { Logger } from '../log.ts'
import type { ChainEventSource } from './ports.ts'
import { listenTo } from './listen.ts'
import type { BlockProcessed, MempoolEntry, TipChange, TxRefused } from './types.ts'

export interface ChainLogInit {
  /** While true (a long sync shows its own progress), new tips go to debug. */
  quiet?: () => boolean
}

/** Where a block came from, as a log line says it. */
export function sourceText (source: string | undefined): string {
  switch (source) {
    case undefined: return ''
    case 'miner': return 'mined here'
    case 'rpc': return 'submitted over RPC'
    case 'reindex': return 'from the datadir (reindex)'
    default: return `from ${source}`
  }
}

/** Bytes as people read them: 812 B, 4.1 kB, 1.0 MB. */
export function formatBytes (bytes: number): string {
  if (bytes < 1_000) return `${bytes} B`
  if (bytes < 1_000_000) return `${(bytes / 1_000).toFixed(1)} kB`
  return `${(bytes / 1_000_000).toFixed(1)} MB`
}

const ms = (seconds: number): number => Math.round(seconds * 10_000) / 10

/**
 * The chain's story in the log, from its events: a line per new tip (height,
 * id, transactions, size, where it came from, validation time), per side
 * block, per reorganisation (depth, old and new tip); at debug each block's
 * stage timings, each refusal, each transaction taken or refused. Returns the
 * function that detaches it.
 */
export function logChainEvents (chain: ChainEventSource, log: Logger, init: ChainLogInit = {}): () => void {
  const onProcessed = (p: BlockProcessed): void => {
    const { block } = p
    const stages = Object.entries(p.stages).map(([stage, s]) => `${stage} ${ms(s)} ms`).join(', ')
    if (stages !== '') log.debug(`block ${block.height} ${block.idString} ${p.status}${p.code === undefined ? '' : ` (${p.code})`}: ${stages}`)
    const fields = { event: p.status === 'connected' ? 'tip' : p.status, height: block.height, id: block.idString, txs: block.txs.length, bytes: block.size, source: p.source, validationMs: ms(p.seconds) }
    const what = `${block.height} ${block.idString} (${block.txs.length} tx${block.txs.length === 1 ? '' : 's'}, ${formatBytes(block.size)})${p.source === undefined ? '' : ` ${sourceText(p.source)}`}, validated in ${ms(p.seconds)} ms`
    if (p.status === 'connected') {
      const quiet = p.source === 'reindex' || (init.quiet?.() ?? false)
      log[quiet ? 'debug' : 'info'](`new tip ${what}`, fields)
    } else if (p.status === 'side') {
      log.info(`side block ${what}: stored on a branch with less work than the tip`, fields)
    } else if (p.status === 'invalid') {
      log.debug(`block ${block.idString} refused: ${p.code ?? ''}${p.source === undefined ? '' : ` (${sourceText(p.source)})`}`, { event: 'refused', id: block.idString, code: p.code, source: p.source })
    }
  }
  const onTip = (change: TipChange): void => {
    if (change.disconnected.length === 0) return
    const old = change.previous
    log.info(`reorganisation: depth ${change.disconnected.length}, old tip ${old.height} ${old.idString}, new tip ${change.tip.height} ${change.tip.idString} (${change.connected.length} connected, ${change.returned.length} transactions back in the mempool)`, {
      event: 'reorganisation', depth: change.disconnected.length, oldHeight: old.height, oldTip: old.idString, newHeight: change.tip.height, newTip: change.tip.idString
    })
  }
  const onAccepted = (entry: MempoolEntry, source: string | undefined): void => {
    log.debug(`transaction ${entry.tx.idString} accepted (${entry.size} B, fee rate ${entry.feeRate.toFixed(2)}/B)${source === undefined ? '' : ` ${sourceText(source)}`}`)
  }
  const onRefused = (r: TxRefused): void => {
    log.debug(`transaction ${r.tx.idString} refused: ${r.code}${r.source === undefined ? '' : ` (${sourceText(r.source)})`}`)
  }
  return listenTo(chain, { 'block:processed': onProcessed, tip: onTip, 'tx:accepted': onAccepted, 'tx:refused': onRefused })
}
