/** A value as an error message quotes it: JSON, whole up to `max` characters, else cut with an ellipsis that says so. */
export function quoted (value: unknown, max = 100): string {
  const text = typeof value === 'bigint' ? value.toString() : JSON.stringify(value) ?? String(value)
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length} characters)`
}
