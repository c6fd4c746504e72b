// Drives the official @segment/analytics-node against a live Tenure, configured as its docs
// say: only writeKey and host. Run by tests/customers/test_segment_libraries.py with
// TENURE_HOST and TENURE_WRITE_KEY set; prints what it posted where, as JSON, for the test.
const { Analytics } = require('@segment/analytics-node')

const analytics = new Analytics({
  writeKey: process.env.TENURE_WRITE_KEY,
  host: process.env.TENURE_HOST,
})
const requests = []
const errors = []
analytics.on('http_response', (r) => requests.push({ url: r.url, status: r.status }))
analytics.on('error', (e) => errors.push(String((e && (e.reason || e.code)) || e)))

async function main() {
  // Segment's usual order: the new user's identify goes out before the group that makes
  // the account, here in a request of its own.
  analytics.identify({
    userId: 'node-u1',
    traits: { email: 'ada@node.example', name: 'Ada Node', seat: 'admin' },
  })
  await analytics.flush()
  analytics.group({ userId: 'node-u1', groupId: 'node-acme', traits: { name: 'Node Acme' } })
  analytics.track({ userId: 'node-u1', event: 'Report Exported', properties: { format: 'csv' } })
  await analytics.closeAndFlush({ timeout: 30000 })
  console.log(JSON.stringify({ requests, errors }))
  process.exit(errors.length ? 1 : 0)
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
