/**
 * Debian's Chromium, headless, driven by playwright-core: pages open with the
 * console's errors and the page's uncaught exceptions collected.
 */
import { chromium, type Browser, type Page } from 'playwright-core'

export const CHROMIUM = '/usr/bin/chromium'

export interface OpenedPage { browser: Browser, page: Page, errors: string[] }

export async function openInChromium (url: string): Promise<OpenedPage> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] })
  const page = await browser.newPage({ viewport: { width: 960, height: 1200 } })
  const errors: string[] = []
  page.on('console', m => { if (m.type() === 'error') errors.push(m.text()) })
  page.on('pageerror', e => { errors.push(e.message) })
  // Nothing is fetched from the network: a page that tries fails the test.
  page.on('request', r => { if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) errors.push(`request to ${r.url()}`) })
  await page.goto(url)
  return { browser, page, errors }
}
