/** A page opened in bench/browser.ts's Chromium, with the console's errors and the page's uncaught exceptions collected. */
import type { Page } from 'playwright-core'
import { launchChromium } from '../../bench/browser.ts'

export interface OpenedPage { page: Page, errors: string[], close: () => Promise<void> }

export async function openInChromium (url: string): Promise<OpenedPage> {
  const { context, close } = await launchChromium()
  const page = await context.newPage()
  await page.setViewportSize({ width: 960, height: 1200 })
  const errors: string[] = []
  page.on('console', m => { if (m.type() === 'error') errors.push(m.text()) })
  page.on('pageerror', e => { errors.push(e.message) })
  // Nothing is fetched from the network: a page that tries fails the test.
  page.on('request', r => { if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) errors.push(`request to ${r.url()}`) })
  await page.goto(url)
  return { page, errors, close }
}
