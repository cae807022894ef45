import { HDKey } from '@scure/bip32'
import { generateMnemonic, mnemonicToSeedSync, validateMnemonic } from '@scure/bip39'
import { wordlist } from '@scure/bip39/wordlists/english.js'
import { encodeAddress } from '../core/address.ts'
import { hash160 } from '../core/hash.ts'
import type { NetworkParams } from '../core/params.ts'
import { WalletError } from './errors.ts'

export const Branch = { RECEIVE: 0, CHANGE: 1 } as const
export type Branch = typeof Branch[keyof typeof Branch]

/** BIP44 coin types: 1 is every test network's; lan takes an unregistered one of its own. */
const COIN_TYPE: Record<string, number> = { regtest: 1, lan: 7_777 }

export function newMnemonic (): string {
  return generateMnemonic(wordlist, 256)
}

export function checkMnemonic (mnemonic: unknown): string {
  const words = typeof mnemonic === 'string' ? mnemonic.trim().toLowerCase().split(/\s+/).join(' ') : ''
  if (!validateMnemonic(words, wordlist)) throw new WalletError('BAD_MNEMONIC', 'not a valid BIP39 English mnemonic (12 to 24 words with a valid checksum)')
  return words
}

/** The account key m/84'/coin'/0' from a mnemonic: private when signing, its xpub when watching. */
export function accountKey (mnemonic: string, params: NetworkParams): HDKey {
  return HDKey.fromMasterSeed(mnemonicToSeedSync(mnemonic)).derive(`m/84'/${COIN_TYPE[params.name] ?? 1}'/0'`)
}

export interface DerivedAddress {
  branch: Branch
  index: number
  /** hash160 of the compressed public key. */
  hash: Uint8Array
  address: string
}

/** Derives receiving (branch 0) and change (branch 1) addresses from the account's xpub. */
export class AddressDeriver {
  readonly #branches: HDKey[]
  readonly #prefix: string

  constructor (xpub: string, params: NetworkParams) {
    const account = HDKey.fromExtendedKey(xpub)
    this.#branches = [account.deriveChild(Branch.RECEIVE), account.deriveChild(Branch.CHANGE)]
    this.#prefix = params.addressPrefix
  }

  derive (branch: Branch, index: number): DerivedAddress {
    const publicKey = this.#branches[branch].deriveChild(index).publicKey
    if (publicKey === null) throw new Error('derivation gave no public key')
    const hash = hash160(publicKey)
    return { branch, index, hash, address: encodeAddress(this.#prefix, hash) }
  }
}

/** The private key of an address, from the unlocked account key. */
export function privateKeyOf (account: HDKey, branch: Branch, index: number): Uint8Array {
  const key = account.deriveChild(branch).deriveChild(index).privateKey
  if (key === null) throw new WalletError('WALLET_LOCKED', 'the wallet is locked')
  return key
}
