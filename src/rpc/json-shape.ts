/**
 * The shape of a JSON body, checked as its chunks arrive and before JSON.parse:
 * how deep it nests and how many values it holds, so that what one request may
 * make the parser allocate is bounded by more than its size. 8 MB of `[` nested
 * 4 million deep parsed for 2 s into 235 MB of arrays; V8's JSON.parse has no
 * limit to pass it. No RPC param is a container, so real requests nest three or
 * four deep and hold a few values for each request of a batch.
 */

/** Deepest nesting a request may have (Bitcoin Core's UniValue allows 512; nothing of ours needs more than 4). */
export const MAX_JSON_DEPTH = 64
/** Most values one body may hold: a full batch (1,000 requests) holds about 10,000. */
export const MAX_JSON_VALUES = 100_000

const QUOTE = 0x22
const BACKSLASH = 0x5c
const OPEN_ARRAY = 0x5b
const CLOSE_ARRAY = 0x5d
const OPEN_OBJECT = 0x7b
const CLOSE_OBJECT = 0x7d
const COMMA = 0x2c

export interface JsonShapeProblem {
  code: 'TOO_DEEP' | 'TOO_MANY_VALUES'
  message: string
}

/**
 * Counts structure outside strings in UTF-8 JSON (multi-byte characters never
 * hold an ASCII byte), a chunk at a time: work bounded by each chunk. It does
 * not validate; JSON.parse does, once the shape is known to be bounded.
 */
export class JsonShapeScanner {
  readonly #maxDepth: number
  readonly #maxValues: number
  #depth = 0
  /** Every value but the first of a container follows a comma; each container is a value itself. */
  #values = 1
  #inString = false
  #escaped = false

  constructor (maxDepth = MAX_JSON_DEPTH, maxValues = MAX_JSON_VALUES) {
    this.#maxDepth = maxDepth
    this.#maxValues = maxValues
  }

  /** The first problem the text so far shows, or undefined. */
  push (chunk: Uint8Array): JsonShapeProblem | undefined {
    for (let at = 0; at < chunk.length; at++) {
      const byte = chunk[at]
      if (this.#inString) {
        if (this.#escaped) this.#escaped = false
        else if (byte === BACKSLASH) this.#escaped = true
        else if (byte === QUOTE) this.#inString = false
      } else if (byte === QUOTE) {
        this.#inString = true
      } else if (byte === OPEN_ARRAY || byte === OPEN_OBJECT) {
        if (++this.#depth > this.#maxDepth) return { code: 'TOO_DEEP', message: `JSON nested deeper than ${this.#maxDepth} levels` }
        if (++this.#values > this.#maxValues) return this.#tooMany()
      } else if (byte === CLOSE_ARRAY || byte === CLOSE_OBJECT) {
        this.#depth--
      } else if (byte === COMMA && ++this.#values > this.#maxValues) {
        return this.#tooMany()
      }
    }
    return undefined
  }

  #tooMany (): JsonShapeProblem {
    return { code: 'TOO_MANY_VALUES', message: `more than ${this.#maxValues} JSON values in one request` }
  }
}
