import { createHmac } from 'node:crypto'
import { HDKey } from '@scure/bip32'
import { generateMnemonic, mnemonicToSeedSync, validateMnemonic } from '@scure/bip39'
import { wordlist } from '@scure/bip39/wordlists/english.js'
import { encodeAddress } from '../core/address.ts'
import { hash160 } from '../core/hash.ts'
import { tweakPublicKey } from '../core/keys.ts'
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

/** Longest BIP39 passphrase taken, in UTF-8 bytes: the wallet file encrypts it with the mnemonic. */
const MAX_BIP39_PASSPHRASE_BYTES = 512

/** A BIP39 passphrase (the optional "25th word"; empty for none), checked. */
export function checkBip39Passphrase (passphrase: unknown): string {
  if (passphrase === undefined) return ''
  if (typeof passphrase !== 'string') throw new WalletError('BAD_PASSPHRASE', 'the BIP39 passphrase must be a string')
  if (Buffer.byteLength(passphrase) > MAX_BIP39_PASSPHRASE_BYTES) throw new WalletError('BAD_PASSPHRASE', `the BIP39 passphrase is longer than ${MAX_BIP39_PASSPHRASE_BYTES} bytes`)
  return passphrase
}

/**
 * The account key m/84'/coin'/0' from a mnemonic and its optional BIP39
 * passphrase (other wallets' "25th word": the same words with another
 * passphrase are another wallet): private when signing, its xpub when watching.
 */
export function accountKey (mnemonic: string, params: NetworkParams, bip39Passphrase = ''): HDKey {
  return HDKey.fromMasterSeed(mnemonicToSeedSync(mnemonic, bip39Passphrase)).derive(`m/84'/${COIN_TYPE[params.name] ?? 1}'/0'`)
}

export class DerivedAddress {
  readonly branch: Branch
  readonly index: number
  /** hash160 of the compressed public key. */
  readonly hash: Uint8Array
  readonly #prefix: string
  #address: string | undefined

  constructor (branch: Branch, index: number, hash: Uint8Array, prefix: string) {
    this.branch = branch
    this.index = index
    this.hash = hash
    this.#prefix = prefix
  }

  /** Its bech32m text, spelled when first asked for: a wallet watches thousands, and shows few. */
  get address (): string {
    this.#address ??= encodeAddress(this.#prefix, this.hash)
    return this.#address
  }
}

/** A public BIP32 node: compressed key and chain code. */
interface PublicNode { key: Uint8Array, chainCode: Uint8Array }

/**
 * BIP32 CKDpub of a non-hardened index, on libsecp256k1: @scure/bip32 takes
 * about 1 ms a key in JavaScript (10–20 ms on a loaded machine, and more while
 * its tables are built), and a wallet derives one for every address it watches.
 */
function childOf (parent: PublicNode, index: number): PublicNode {
  const data = new Uint8Array(37)
  data.set(parent.key)
  new DataView(data.buffer).setUint32(33, index)
  const i = createHmac('sha512', parent.chainCode).update(data).digest()
  return { key: tweakPublicKey(parent.key, i.subarray(0, 32)), chainCode: new Uint8Array(i.subarray(32)) }
}

/** Derives receiving (branch 0) and change (branch 1) addresses from the account's xpub. */
export class AddressDeriver {
  readonly #branches: PublicNode[]
  readonly prefix: string

  constructor (xpub: string, params: NetworkParams) {
    const account = HDKey.fromExtendedKey(xpub)
    if (account.publicKey === null || account.chainCode === null) throw new Error('not an extended public key')
    const node = { key: account.publicKey, chainCode: account.chainCode }
    this.#branches = [childOf(node, Branch.RECEIVE), childOf(node, Branch.CHANGE)]
    this.prefix = params.addressPrefix
  }

  derive (branch: Branch, index: number): DerivedAddress {
    return new DerivedAddress(branch, index, hash160(childOf(this.#branches[branch], index).key), this.prefix)
  }
}

/** The private key of an address, from the unlocked account key. */
export function privateKeyOf (account: HDKey, branch: Branch, index: number): Uint8Array {
  const key = account.deriveChild(branch).deriveChild(index).privateKey
  if (key === null) throw new WalletError('WALLET_LOCKED', 'the wallet is locked')
  return key
}
