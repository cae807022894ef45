/**
 * Errors carry a stable machine-readable code (as Lodestar's `BlockError`),
 * so callers branch on `err.code`, never on message text.
 */
export class CointsError<C extends string = string> extends Error {
  readonly code: C
  constructor (code: C, message?: string) {
    super(message === undefined ? code : `${code}: ${message}`)
    this.code = code
    this.name = new.target.name
  }
}

/** Bytes that do not decode to a well-formed object. */
export class DecodeError extends CointsError {}

export const TxErrorCode = {
  BAD_VERSION: 'BAD_VERSION',
  NO_INPUTS: 'NO_INPUTS',
  NO_OUTPUTS: 'NO_OUTPUTS',
  BAD_AMOUNT: 'BAD_AMOUNT',
  DUPLICATE_INPUT: 'DUPLICATE_INPUT',
  TOO_LARGE: 'TOO_LARGE',
  COINBASE_IN_MEMPOOL: 'COINBASE_IN_MEMPOOL',
  MISSING_INPUT: 'MISSING_INPUT',
  IMMATURE_SPEND: 'IMMATURE_SPEND',
  WRONG_KEY: 'WRONG_KEY',
  BAD_SIGNATURE: 'BAD_SIGNATURE',
  INSUFFICIENT_INPUTS: 'INSUFFICIENT_INPUTS',
  CONFLICT: 'CONFLICT',
  ALREADY_KNOWN: 'ALREADY_KNOWN',
  FEE_TOO_LOW: 'FEE_TOO_LOW',
  MEMPOOL_FULL: 'MEMPOOL_FULL'
} as const
export type TxErrorCode = typeof TxErrorCode[keyof typeof TxErrorCode]

export class TxError extends CointsError<TxErrorCode> {}

export const BlockErrorCode = {
  BAD_VERSION: 'BAD_VERSION',
  BAD_POW: 'BAD_POW',
  TARGET_ABOVE_LIMIT: 'TARGET_ABOVE_LIMIT',
  BAD_DIFFICULTY: 'BAD_DIFFICULTY',
  TIME_TOO_OLD: 'TIME_TOO_OLD',
  TIME_TOO_NEW: 'TIME_TOO_NEW',
  TOO_LARGE: 'TOO_LARGE',
  NO_COINBASE: 'NO_COINBASE',
  EXTRA_COINBASE: 'EXTRA_COINBASE',
  BAD_COINBASE_HEIGHT: 'BAD_COINBASE_HEIGHT',
  BAD_COINBASE_VALUE: 'BAD_COINBASE_VALUE',
  BAD_TX_ROOT: 'BAD_TX_ROOT',
  DUPLICATE_TX: 'DUPLICATE_TX',
  DOUBLE_SPEND: 'DOUBLE_SPEND',
  BAD_TX: 'BAD_TX',
  BAD_HEIGHT: 'BAD_HEIGHT',
  PREV_UNKNOWN: 'PREV_UNKNOWN',
  PREV_INVALID: 'PREV_INVALID',
  KNOWN_INVALID: 'KNOWN_INVALID',
  ALREADY_KNOWN: 'ALREADY_KNOWN',
  WRONG_NETWORK: 'WRONG_NETWORK'
} as const
export type BlockErrorCode = typeof BlockErrorCode[keyof typeof BlockErrorCode]

export class BlockError extends CointsError<BlockErrorCode> {
  /** The transaction error behind a BAD_TX, for logs and peer scoring. */
  override readonly cause?: TxError
  constructor (code: BlockErrorCode, message?: string, cause?: TxError) {
    super(code, message)
    this.cause = cause
  }
}
