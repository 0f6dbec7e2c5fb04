// Opens a page in headless Chromium and tracks a custom event from it with the JS client SDK's
// browser bundle: `node browser.cjs <json>`, the JSON giving `chromium` (the executable),
// `page` (the page's URL), `options` (VoucherifyClientSide's), `event`, `customer`, `metadata`.
// Prints one JSON object: what the page's `trackEvent` answered, and the browser's own messages.
'use strict'

const fs = require('fs')
const os = require('os')
const path = require('path')
const { chromium } = require('playwright-core')

// A fresh profile, and no calls to Google's hosts (updates, sync, QUIC probes, field trials).
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

async function main() {
  const input = JSON.parse(process.argv[2])
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'patron-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: input.chromium,
    headless: true,
    args: ARGS,
  })
  try {
    const page = await context.newPage()
    const messages = []
    page.on('console', (message) => messages.push(`${message.type()}: ${message.text()}`))
    page.on('requestfailed', (request) =>
      messages.push(`failed: ${request.method()} ${request.url()} ${request.failure().errorText}`),
    )
    const loaded = await page.goto(input.page)
    if (!loaded.ok()) throw new Error(`${input.page} answered ${loaded.status()}`)
    const answer = await page.evaluate(
      ({ options, event, customer, metadata }) =>
        window.trackEvent(options, event, customer, metadata),
      input,
    )
    process.stdout.write(`${JSON.stringify({ ...answer, origin: new URL(page.url()).origin, messages })}\n`)
  } finally {
    await context.close()
    fs.rmSync(profile, { recursive: true, force: true })
  }
}

main().catch((error) => {
  process.stderr.write(`${error.stack}\n`)
  process.exitCode = 2
})
