import { createLogger, setLogLevel } from '../../src/log.ts'
import { Wallet, type WalletInit } from '../../src/wallet/wallet.ts'
import { regtest, type TestChain } from './chain-harness.ts'

setLogLevel(process.env.COINTS_TEST_LOG === undefined ? 'silent' : 'debug')

/** A wallet over `chain` in `datadir`, with a cheap key derivation. */
export function walletIn (chain: TestChain, datadir: string, init: Partial<WalletInit> = {}): Wallet {
  return new Wallet({ chain, mempool: chain.mempool, logger: createLogger('wallet') }, { datadir, params: regtest, defaultFeeRate: 1, kdf: { N: 1 << 10, r: 8, p: 1 }, ...init })
}
