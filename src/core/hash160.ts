/**
 * hash160 (RIPEMD-160 of SHA-256) of short data, such as a 33-byte public key,
 * in JavaScript: both hashes then take one compression each, and a block
 * hashes a key per input. Two native one-shot hashes cost about 4 µs a key
 * here, mostly the calls and their result buffers; these take about 1.4 µs.
 */

/** Longest input that SHA-256 pads into one 64-byte block. */
export const ONE_BLOCK_MAX = 55

const K256 = Int32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
])
const IV256 = Int32Array.from([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19])
/** Scratch: SHA-256's message schedule, then its digest; RIPEMD-160's message words. */
const W = new Int32Array(64)
const DIGEST = new Int32Array(8)
const X = new Int32Array(16)

/** SHA-256 of `data` (at most ONE_BLOCK_MAX bytes) into DIGEST, as big-endian words. */
function sha256OneBlock (data: Uint8Array): void {
  W.fill(0, 0, 16)
  for (let i = 0; i < data.length; i++) W[i >> 2] |= data[i] << (24 - 8 * (i & 3))
  W[data.length >> 2] |= 0x80 << (24 - 8 * (data.length & 3))
  W[15] = data.length * 8
  for (let i = 16; i < 64; i++) {
    const x = W[i - 15]
    const y = W[i - 2]
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10)
    W[i] = (W[i - 16] + s0 + W[i - 7] + s1) | 0
  }
  let a = IV256[0]; let b = IV256[1]; let c = IV256[2]; let d = IV256[3]
  let e = IV256[4]; let f = IV256[5]; let g = IV256[6]; let h = IV256[7]
  for (let i = 0; i < 64; i++) {
    const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))
    const t1 = (h + s1 + ((e & f) ^ (~e & g)) + K256[i] + W[i]) | 0
    const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))
    const t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0
    h = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0
  }
  DIGEST[0] = a + IV256[0]; DIGEST[1] = b + IV256[1]; DIGEST[2] = c + IV256[2]; DIGEST[3] = d + IV256[3]
  DIGEST[4] = e + IV256[4]; DIGEST[5] = f + IV256[5]; DIGEST[6] = g + IV256[6]; DIGEST[7] = h + IV256[7]
}

// RIPEMD-160's two lines: the message word each step reads, its rotation, and each round's constant.
const RL = Uint8Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 7, 4, 13, 1, 10, 6, 15, 3, 12, 0, 9, 5, 2, 14, 11, 8, 3, 10, 14, 4, 9, 15, 8, 1, 2, 7, 0, 6, 13, 11, 5, 12, 1, 9, 11, 10, 0, 8, 12, 4, 13, 3, 7, 15, 14, 5, 6, 2, 4, 0, 5, 9, 7, 12, 2, 10, 14, 1, 3, 8, 11, 6, 15, 13])
const RR = Uint8Array.from([5, 14, 7, 0, 9, 2, 11, 4, 13, 6, 15, 8, 1, 10, 3, 12, 6, 11, 3, 7, 0, 13, 5, 10, 14, 15, 8, 12, 4, 9, 1, 2, 15, 5, 1, 3, 7, 14, 6, 9, 11, 8, 12, 2, 10, 0, 4, 13, 8, 6, 4, 1, 3, 11, 15, 0, 5, 12, 2, 13, 9, 7, 10, 14, 12, 15, 10, 4, 1, 5, 8, 7, 6, 2, 13, 14, 0, 3, 9, 11])
const SL = Uint8Array.from([11, 14, 15, 12, 5, 8, 7, 9, 11, 13, 14, 15, 6, 7, 9, 8, 7, 6, 8, 13, 11, 9, 7, 15, 7, 12, 15, 9, 11, 7, 13, 12, 11, 13, 6, 7, 14, 9, 13, 15, 14, 8, 13, 6, 5, 12, 7, 5, 11, 12, 14, 15, 14, 15, 9, 8, 9, 14, 5, 6, 8, 6, 5, 12, 9, 15, 5, 11, 6, 8, 13, 12, 5, 12, 13, 14, 11, 8, 5, 6])
const SR = Uint8Array.from([8, 9, 9, 11, 13, 15, 15, 5, 7, 7, 8, 11, 14, 14, 12, 6, 9, 13, 15, 7, 12, 8, 9, 11, 7, 7, 12, 7, 6, 15, 13, 11, 9, 7, 15, 11, 8, 6, 6, 14, 12, 13, 5, 14, 13, 13, 7, 5, 15, 5, 8, 11, 14, 14, 6, 14, 6, 9, 12, 9, 12, 5, 15, 8, 8, 5, 12, 9, 12, 5, 14, 6, 8, 13, 6, 5, 15, 13, 11, 11])
const KL = Int32Array.from([0x00000000, 0x5a827999, 0x6ed9eba1, 0x8f1bbcdc, 0xa953fd4e])
const KR = Int32Array.from([0x50a28be6, 0x5c4dd124, 0x6d703ef3, 0x7a6d76e9, 0x00000000])
const IV160 = Int32Array.from([0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0])

function rotl (x: number, n: number): number {
  return (x << n) | (x >>> (32 - n))
}

/** The five rounds' functions, the right line taking them in reverse order. */
function f (round: number, x: number, y: number, z: number): number {
  switch (round) {
    case 0: return x ^ y ^ z
    case 1: return (x & y) | (~x & z)
    case 2: return (x | ~y) ^ z
    case 3: return (x & z) | (y & ~z)
    default: return x ^ (y | ~z)
  }
}

/** RIPEMD-160 of the 32-byte SHA-256 digest in DIGEST. */
function ripemd160OfDigest (): Uint8Array {
  // RIPEMD-160 reads little-endian words: each big-endian digest word byte-swapped, then padding and the bit length.
  for (let i = 0; i < 8; i++) {
    const v = DIGEST[i]
    X[i] = (v >>> 24) | ((v >>> 8) & 0xff00) | ((v << 8) & 0xff0000) | (v << 24)
  }
  X.fill(0, 8, 16)
  X[8] = 0x80
  X[14] = 32 * 8
  let al = IV160[0]; let bl = IV160[1]; let cl = IV160[2]; let dl = IV160[3]; let el = IV160[4]
  let ar = al; let br = bl; let cr = cl; let dr = dl; let er = el
  for (let j = 0; j < 80; j++) {
    const round = j >> 4
    let t = (rotl((al + f(round, bl, cl, dl) + X[RL[j]] + KL[round]) | 0, SL[j]) + el) | 0
    al = el; el = dl; dl = rotl(cl, 10); cl = bl; bl = t
    t = (rotl((ar + f(4 - round, br, cr, dr) + X[RR[j]] + KR[round]) | 0, SR[j]) + er) | 0
    ar = er; er = dr; dr = rotl(cr, 10); cr = br; br = t
  }
  const out = new Uint8Array(20)
  putLE(out, 0, IV160[1] + cl + dr)
  putLE(out, 4, IV160[2] + dl + er)
  putLE(out, 8, IV160[3] + el + ar)
  putLE(out, 12, IV160[4] + al + br)
  putLE(out, 16, IV160[0] + bl + cr)
  return out
}

function putLE (out: Uint8Array, at: number, v: number): void {
  out[at] = v
  out[at + 1] = v >>> 8
  out[at + 2] = v >>> 16
  out[at + 3] = v >>> 24
}

/** hash160 of at most ONE_BLOCK_MAX bytes. */
export function hash160OneBlock (data: Uint8Array): Uint8Array {
  if (data.length > ONE_BLOCK_MAX) throw new RangeError(`hash160OneBlock takes at most ${ONE_BLOCK_MAX} bytes`)
  sha256OneBlock(data)
  return ripemd160OfDigest()
}
