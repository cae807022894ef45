import { Block, Header, NONCE_BYTES, type HeaderData } from '../core/block.ts'
import { bitsToTarget } from '../core/pow.ts'
import type { Tx } from '../core/tx.ts'

/**
 * Finds a nonce on the calling thread: for regtest, tests and benchmarks, where
 * half of all hashes meet the target. The node's miner searches on a worker.
 */
export function solveBlock (template: { header: HeaderData, txs: Tx[] }, maxAttempts = 1_000_000): Block {
  const target = bitsToTarget(template.header.bits)
  const nonce = new Uint8Array(NONCE_BYTES)
  const view = new DataView(nonce.buffer)
  for (let i = 0; i < maxAttempts; i++) {
    view.setUint32(4, i)
    const header = Header.create({ ...template.header, nonce: nonce.slice() })
    if (header.powHash <= target) return new Block(header, template.txs)
  }
  throw new Error(`no nonce found in ${maxAttempts} attempts`)
}
