import secp256k1 from 'secp256k1'
import { randomBytes } from 'node:crypto'
import { hash160 } from './hash.ts'

export const PUBKEY_BYTES = 33
export const SIGNATURE_BYTES = 64

/**
 * libsecp256k1 through the native `secp256k1` package (~40× @noble/secp256k1 here).
 * Its verify rejects high-S signatures, so a signature has one valid form and a
 * third party cannot malleate a transaction's id.
 */
export function verifySignature (sig: Uint8Array, msg32: Uint8Array, pubkey: Uint8Array): boolean {
  try {
    return secp256k1.ecdsaVerify(sig, msg32, pubkey)
  } catch {
    // Malformed public key or signature bytes: simply not a valid signature.
    return false
  }
}

export function sign (msg32: Uint8Array, privateKey: Uint8Array): Uint8Array {
  return secp256k1.ecdsaSign(msg32, privateKey).signature
}

export function publicKeyOf (privateKey: Uint8Array): Uint8Array {
  return secp256k1.publicKeyCreate(privateKey, true)
}

/** The compressed public key + tweak·G (BIP32's public derivation); throws for a tweak that is not a valid key. */
export function tweakPublicKey (publicKey: Uint8Array, tweak: Uint8Array): Uint8Array {
  return secp256k1.publicKeyTweakAdd(publicKey, tweak, true)
}

export function randomPrivateKey (): Uint8Array {
  for (;;) {
    const key = new Uint8Array(randomBytes(32))
    if (secp256k1.privateKeyVerify(key)) return key
  }
}

/** A key pair with its address hash, for wallets and tests. */
export interface KeyPair {
  privateKey: Uint8Array
  publicKey: Uint8Array
  addressHash: Uint8Array
}

export function keyPairOf (privateKey: Uint8Array): KeyPair {
  const publicKey = publicKeyOf(privateKey)
  return { privateKey, publicKey, addressHash: hash160(publicKey) }
}
