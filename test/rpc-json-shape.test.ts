import assert from 'node:assert/strict'
import { test } from 'node:test'
import { JsonShapeScanner } from '../src/rpc/json-shape.ts'

/** The scanner's verdict on `text` fed in pieces of `size` bytes. */
function verdict (text: string, size: number, maxDepth = 64, maxValues = 100_000): string | undefined {
  const bytes = Buffer.from(text)
  const scanner = new JsonShapeScanner(maxDepth, maxValues)
  for (let at = 0; at < bytes.length; at += size) {
    const problem = scanner.push(bytes.subarray(at, at + size))
    if (problem !== undefined) return problem.code
  }
  return undefined
}

test('the shape scan counts nesting and values outside strings, whichever way the body is cut', () => {
  const deep = (n: number): string => '['.repeat(n) + ']'.repeat(n)
  for (const size of [1, 2, 3, 1_000]) {
    assert.equal(verdict(deep(64), size), undefined)
    assert.equal(verdict(deep(65), size), 'TOO_DEEP')
    // Brackets, commas and escaped quotes inside strings are text, also when an escape is cut from its character.
    assert.equal(verdict(JSON.stringify({ id: 1, params: ['"[[[[,,,,{{{{\\"' + '['.repeat(100)] }), size, 2, 5), undefined)
    assert.equal(verdict(`[${Array(10).fill('0').join(',')}]`, size, 64, 11), undefined)
    assert.equal(verdict(`[${Array(11).fill('0').join(',')}]`, size, 64, 11), 'TOO_MANY_VALUES')
    assert.equal(verdict(`[${Array(6).fill('{}').join(',')}]`, size, 64, 11), 'TOO_MANY_VALUES')
    // A string that ends in an escaped backslash closes at the next quote.
    assert.equal(verdict('["\\\\", [[[]]]]', size, 3), 'TOO_DEEP')
  }
})
