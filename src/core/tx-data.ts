/**
 * A transaction's fields, apart from Tx (tx.ts) and its fast decoder
 * (tx-codec.ts), which both build them: so neither module imports the other's types.
 */
import type { OutPoint } from './outpoint.ts'

export interface TxInput {
  prev: OutPoint
  /** Each input carries its own key, so one transaction can spend coins of several addresses. */
  pubkey: Uint8Array
  sig: Uint8Array
}

export interface TxOutput {
  amount: bigint
  /** hash160 of the public key allowed to spend it. */
  address: Uint8Array
}

export interface TransactionData {
  version: number
  /** Present on coinbase transactions only: the block height, so coinbase ids never repeat. */
  height?: number
  inputs: TxInput[]
  outputs: TxOutput[]
}
