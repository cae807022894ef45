import { randomBytes } from 'node:crypto'
import { Block, Header, NONCE_BYTES, type HeaderData } from '../core/block.ts'
import { bitsToTarget } from '../core/pow.ts'
import type { Tx } from '../core/tx.ts'

/**
 * Finds a nonce on the calling thread: for regtest, tests and benchmarks, where
 * half of all hashes meet the target. The node's miner searches on a worker.
 * Nonces count from a random start, so two otherwise equal blocks differ.
 */
export function solveBlock (template: { header: HeaderData, txs: readonly Tx[] }, maxAttempts = 1_000_000): Block {
  const target = bitsToTarget(template.header.bits)
  const nonce = new Uint8Array(randomBytes(NONCE_BYTES))
  const view = new DataView(nonce.buffer)
  for (let i = 0; i < maxAttempts; i++) {
    view.setUint32(4, (view.getUint32(4) + 1) >>> 0)
    const header = Header.create({ ...template.header, nonce: nonce.slice() })
    if (header.powHash <= target) return new Block(header, template.txs)
  }
  throw new Error(`no nonce found in ${maxAttempts} attempts`)
}
