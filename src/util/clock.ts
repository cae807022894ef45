/** The system clock in whole seconds since the epoch, as block times count. */
export function unixSeconds (): number {
  return Math.floor(Date.now() / 1000)
}
