/**
 * The wallet file: the mnemonic encrypted under a passphrase (scrypt, then
 * AES-256-GCM, whose tag makes a wrong passphrase an error rather than garbage),
 * plus public data: the account's extended public key and the address indexes.
 * Every write is atomic (write, fsync, rename), so a crash never tears it.
 */
import { createCipheriv, createDecipheriv, randomBytes, scrypt as scryptCb } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { promisify } from 'node:util'
import { writeFileAtomic } from '../util/atomic-file.ts'
import { WalletError } from './errors.ts'

const scrypt = promisify(scryptCb) as (password: string, salt: Buffer, keylen: number, options: { N: number, r: number, p: number, maxmem: number }) => Promise<Buffer>

export interface KdfParams { N: number, r: number, p: number }
/** scrypt at N = 2^15: about 0.1 s and 32 MiB here, per unlock. */
export const DEFAULT_KDF: KdfParams = { N: 1 << 15, r: 8, p: 1 }

export interface WalletFile {
  version: 1
  network: string
  /** Height at creation: a rescan starts there (0 for a restored wallet). */
  birthHeight: number
  /** Account-level extended public key: addresses are derived without the passphrase. */
  xpub: string
  receiveIndex: number
  changeIndex: number
  kdf: KdfParams & { name: 'scrypt', salt: string }
  cipher: { name: 'aes-256-gcm', iv: string, tag: string, data: string }
}

/** What a wallet file encrypts: the mnemonic, and the BIP39 passphrase ('' for none). */
export interface WalletSecret { mnemonic: string, bip39Passphrase: string }

/** The mnemonic alone, or the mnemonic, a newline and the BIP39 passphrase (a mnemonic's words never hold a newline). */
export function encodeSecret (secret: WalletSecret): string {
  return secret.bip39Passphrase === '' ? secret.mnemonic : `${secret.mnemonic}\n${secret.bip39Passphrase}`
}

export function decodeSecret (text: string): WalletSecret {
  const cut = text.indexOf('\n')
  return cut < 0 ? { mnemonic: text, bip39Passphrase: '' } : { mnemonic: text.slice(0, cut), bip39Passphrase: text.slice(cut + 1) }
}

async function keyFor (passphrase: string, salt: Buffer, kdf: KdfParams): Promise<Buffer> {
  return await scrypt(passphrase.normalize('NFKC'), salt, 32, { ...kdf, maxmem: 256 * kdf.N * kdf.r })
}

export async function encryptSecret (secret: string, passphrase: string, kdf: KdfParams = DEFAULT_KDF): Promise<Pick<WalletFile, 'kdf' | 'cipher'>> {
  if (passphrase.length === 0) throw new WalletError('BAD_PASSPHRASE', 'the passphrase must not be empty')
  const salt = randomBytes(16)
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', await keyFor(passphrase, salt, kdf), iv)
  const data = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()])
  return {
    kdf: { name: 'scrypt', ...kdf, salt: salt.toString('hex') },
    cipher: { name: 'aes-256-gcm', iv: iv.toString('hex'), tag: cipher.getAuthTag().toString('hex'), data: data.toString('hex') }
  }
}

export async function decryptSecret (file: Pick<WalletFile, 'kdf' | 'cipher'>, passphrase: string): Promise<string> {
  const key = await keyFor(passphrase, Buffer.from(file.kdf.salt, 'hex'), file.kdf)
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(file.cipher.iv, 'hex'))
  decipher.setAuthTag(Buffer.from(file.cipher.tag, 'hex'))
  try {
    return Buffer.concat([decipher.update(Buffer.from(file.cipher.data, 'hex')), decipher.final()]).toString('utf8')
  } catch {
    throw new WalletError('WRONG_PASSPHRASE', 'the passphrase is wrong')
  }
}

/** Hex of whole bytes, between `min` and `max` bytes. */
function isHexBytes (s: unknown, min: number, max: number): boolean {
  return typeof s === 'string' && /^(?:[0-9a-f]{2})*$/.test(s) && s.length >= 2 * min && s.length <= 2 * max
}

/** scrypt parameters a wallet could have been written with: anything else would fail or exhaust memory on unlock. */
function isKdf (k: WalletFile['kdf'] | undefined): boolean {
  return k?.name === 'scrypt' && Number.isSafeInteger(k.N) && k.N >= 2 && k.N <= 1 << 20 && (k.N & (k.N - 1)) === 0 &&
    Number.isSafeInteger(k.r) && k.r >= 1 && k.r <= 32 && Number.isSafeInteger(k.p) && k.p >= 1 && k.p <= 16 && isHexBytes(k.salt, 16, 64)
}

function isWalletFile (v: unknown): v is WalletFile {
  const f = v as WalletFile
  return typeof f === 'object' && f !== null && f.version === 1 && typeof f.network === 'string' &&
    Number.isSafeInteger(f.birthHeight) && f.birthHeight >= 0 && typeof f.xpub === 'string' &&
    Number.isSafeInteger(f.receiveIndex) && f.receiveIndex >= 0 && Number.isSafeInteger(f.changeIndex) && f.changeIndex >= 0 &&
    isKdf(f.kdf) && f.cipher?.name === 'aes-256-gcm' &&
    isHexBytes(f.cipher.iv, 12, 12) && isHexBytes(f.cipher.tag, 16, 16) && isHexBytes(f.cipher.data, 1, 1_024)
}

/** Reads the wallet file; undefined when there is none. A damaged file is an error naming it. */
export async function readWalletFile (path: string): Promise<WalletFile | undefined> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new WalletError('CORRUPT_WALLET_FILE', `cannot read ${path}: ${(err as Error).message}`)
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new WalletError('CORRUPT_WALLET_FILE', `${path} is not valid JSON: restore it from a backup or from the mnemonic`)
  }
  if (!isWalletFile(value)) throw new WalletError('CORRUPT_WALLET_FILE', `${path} is not a coints wallet file (version 1)`)
  return value
}

export async function writeWalletFile (path: string, file: WalletFile): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(file, null, 2) + '\n', 0o600)
}
