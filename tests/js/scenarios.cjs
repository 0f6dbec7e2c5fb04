// Drives Patron with the official JS SDK (@voucherify/sdk, pinned in package.json) for what the
// Python SDK lacks or sends differently (INCENTIVES.md §10): `node scenarios.cjs <scenario> [json]`.
// Server, credentials and origin come from the environment (PATRON_URL, PATRON_APP_ID,
// PATRON_APP_TOKEN, PATRON_CLIENT_APP_ID, PATRON_CLIENT_TOKEN, PATRON_ORIGIN); the optional JSON
// argument is the scenario's input. Prints one JSON object on stdout: what the SDK returned, and
// the requests it sent as "METHOD /path?query". An SDK error prints {"error": …} and exits 1.
'use strict'

const { VoucherifyServerSide, VoucherifyClientSide } = require('@voucherify/sdk')

function env(name) {
  const value = process.env[name]
  if (!value) throw new Error(`${name} is not set`)
  return value
}

// The SDK keeps its axios instance on `client.request`; recording through it shows the exact
// paths and query strings sent, such as the trailing slash of vouchers.create without a code.
function record(axios, requests) {
  axios.interceptors.request.use((config) => {
    const url = new URL(axios.getUri(config))
    requests.push(`${config.method.toUpperCase()} ${url.pathname}${url.search}`)
    return config
  })
}

function serverSide(requests) {
  const sdk = VoucherifyServerSide({
    applicationId: env('PATRON_APP_ID'),
    secretKey: env('PATRON_APP_TOKEN'),
    apiUrl: env('PATRON_URL'),
  })
  record(sdk.vouchers.client.request, requests)
  return sdk
}

function clientSide(requests) {
  const sdk = VoucherifyClientSide({
    clientApplicationId: env('PATRON_CLIENT_APP_ID'),
    clientSecretKey: env('PATRON_CLIENT_TOKEN'),
    apiUrl: env('PATRON_URL'),
    origin: env('PATRON_ORIGIN'),
  })
  record(sdk.client.request, requests)
  return sdk
}

const DISCOUNT = { type: 'DISCOUNT_VOUCHER', discount: { type: 'AMOUNT', amount_off: 500 } }

const scenarios = {
  // vouchers.create without a code sends POST /v1/vouchers/ (trailing slash); with one, /{code}.
  async create_voucher(requests, input) {
    const client = serverSide(requests)
    const voucher = await client.vouchers.create({ ...DISCOUNT, code: input.code })
    return { voucher }
  },

  // The client-side publish puts the campaign in the query: POST /client/v1/publish?campaign=…
  async client_publish(requests, input) {
    const client = clientSide(requests)
    const publication = await client.publish(input.campaign, {
      customer: { source_id: input.source_id },
    })
    return { publication }
  },

  // A campaign made, one code added to it, and a code of it published, all through the JS SDK.
  async campaign_flow(requests, input) {
    const client = serverSide(requests)
    const campaign = await client.campaigns.create({
      name: input.name,
      campaign_type: 'DISCOUNT_COUPONS',
      type: 'AUTO_UPDATE',
      vouchers_count: 0,
      voucher: { ...DISCOUNT },
    })
    const added = await client.campaigns.addVoucher(input.name, {}, { vouchers_count: 1 })
    const publication = await client.distributions.publications.create({
      campaign: { name: input.name },
      customer: { source_id: input.source_id },
    })
    return { campaign, added, publication }
  },

  // A gift card's balance added, and its transactions listed.
  async gift_balance(requests, input) {
    const client = serverSide(requests)
    const voucher = await client.vouchers.create({
      code: input.code,
      type: 'GIFT_VOUCHER',
      gift: { amount: 1000 },
    })
    const balance = await client.vouchers.balance.create(input.code, { amount: input.amount })
    const transactions = await client.vouchers.listTransactions(input.code)
    return { voucher, balance, transactions }
  },

  // One SDK method, `{method: "redemptions.rollback", args: [...]}`, called on the server-side
  // SDK: validations, redemptions and rollbacks, whose request shapes are the SDK's own (reason
  // and tracking_id of a rollback in the query, the single-code calls on deprecated paths).
  async server(requests, input) {
    return { result: await call(serverSide(requests), input) }
  },

  // The same on the client-side SDK: `validate` (GET /client/v1/validate?code=…), `redeem`
  // (POST /client/v1/redeem?code=…), `validateStackable`, `redeemStackable`, `createCustomer`
  // (POST /client/v1/customers, with `X-Voucherify-Double-Opt-In` when its second argument is
  // true).
  async client(requests, input) {
    return { result: await call(clientSide(requests), input) }
  },
}

const METHODS = new Set([
  'customers.updateConsents',
  'customers.listActivities',
  'updateConsents',
  'validations.validateVoucher',
  'validations.validateStackable',
  'redemptions.redeem',
  'redemptions.redeemStackable',
  'redemptions.rollback',
  'redemptions.rollbackStackable',
  'redemptions.list',
  'redemptions.get',
  'redemptions.getForVoucher',
  'customers.create',
  'customers.get',
  'customers.updateInBulk',
  'customers.deletePermanently',
  'asyncActions.get',
  'validate',
  'redeem',
  'validateStackable',
  'redeemStackable',
  'createCustomer',
])

function call(sdk, { method, args }) {
  if (!METHODS.has(method)) throw new Error(`method ${method} is not driven by this script`)
  const path = method.split('.')
  const name = path.pop()
  const owner = path.reduce((object, key) => object[key], sdk)
  return owner[name](...(args || []))
}

async function main() {
  const [name, raw] = process.argv.slice(2)
  const scenario = scenarios[name]
  if (scenario === undefined) throw new Error(`unknown scenario ${name}`)
  const requests = []
  try {
    const result = await scenario(requests, raw ? JSON.parse(raw) : {})
    process.stdout.write(`${JSON.stringify({ ...result, requests })}\n`)
  } catch (error) {
    // A VoucherifyError carries the server's error body as own fields; anything else (no
    // response, a bug of this script) is shown with its stack.
    const fromServer = Object.prototype.hasOwnProperty.call(error, 'request_id')
    const body = fromServer ? { ...error, message: error.message } : { stack: String(error.stack) }
    process.stdout.write(`${JSON.stringify({ error: body, requests })}\n`)
    process.exitCode = 1
  }
}

main()
