import { CointsError } from '../core/errors.ts'

export const WalletErrorCode = {
  NO_WALLET: 'NO_WALLET',
  WALLET_EXISTS: 'WALLET_EXISTS',
  BAD_MNEMONIC: 'BAD_MNEMONIC',
  BAD_PASSPHRASE: 'BAD_PASSPHRASE',
  WRONG_PASSPHRASE: 'WRONG_PASSPHRASE',
  CORRUPT_WALLET_FILE: 'CORRUPT_WALLET_FILE',
  WRONG_NETWORK: 'WRONG_NETWORK',
  WALLET_LOCKED: 'WALLET_LOCKED',
  INSUFFICIENT_FUNDS: 'INSUFFICIENT_FUNDS',
  /** The payment would need a transaction over the size limit. */
  TOO_MANY_INPUTS: 'TOO_MANY_INPUTS',
  BAD_AMOUNT: 'BAD_AMOUNT',
  BAD_ADDRESS: 'BAD_ADDRESS',
  BAD_FEE_RATE: 'BAD_FEE_RATE',
  /** The wallet is still catching up with the chain: its balance and coins are not known yet. */
  WALLET_SCANNING: 'WALLET_SCANNING',
  /** The scan met a block it cannot read: nothing above it is known, and no balance is given over the hole. */
  SCAN_FAILED: 'SCAN_FAILED',
  HISTORY_OPEN_FAILED: 'HISTORY_OPEN_FAILED',
  /** A write of the wallet's own files (its history, wallet.json) failed for want of space: the node halts. */
  DISK_FULL: 'DISK_FULL',
  /** A write of the wallet's own files failed otherwise: the node halts. */
  WRITE_FAILED: 'WRITE_FAILED',
  BAD_PATH: 'BAD_PATH',
  BACKUP_FAILED: 'BACKUP_FAILED',
  /** Only unconfirmed change could pay, and spending it would pass the mempool's package limits. */
  UNCONFIRMED_CHAIN_TOO_LONG: 'UNCONFIRMED_CHAIN_TOO_LONG'
} as const
export type WalletErrorCode = typeof WalletErrorCode[keyof typeof WalletErrorCode]

export class WalletError extends CointsError<WalletErrorCode> {}
