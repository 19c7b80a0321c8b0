// Run by survivor.test.ts as a plain Node.js process (no tap, so no handler of uncaught
// exceptions but the ones the code under test installs: none). Opens one inspector session
// to each fake of FAKE_PORTS (each answers a call with one malformed frame), prints how each
// ended, then opens a session to the real target on REAL_PORT and evaluates `1 + 1`.
// Exits 0 after printing "done"; a crash exits otherwise, before "done".
import { errorCode } from '../../src/core/errors.js'
import { InspectorSession } from '../../src/inspector/session.js'

if (process.env.FAKE_PORTS === undefined) {
  // Not a test of its own (e.g. `tap test/inspector` runs every file there): nothing to do.
  process.stdout.write('survivor-probe: run by survivor.test.ts\n')
  process.exit(0)
}
const fakePorts = process.env.FAKE_PORTS.split(',').filter(Boolean).map(Number)
const realPort = Number(process.env.REAL_PORT)

for (const [index, port] of fakePorts.entries()) {
  const session = await InspectorSession.open({ host: '127.0.0.1', port }, 2000)
  let code = 'fulfilled'
  try {
    await session.evaluate('1 + 1', 2000)
  } catch (error) {
    code = errorCode(error)
  }
  process.stdout.write(`fake ${index}: ${code} closed=${session.isClosed}\n`)
  await session.close()
}
const session = await InspectorSession.open({ host: '127.0.0.1', port: realPort }, 5000)
process.stdout.write(`real: ${String(await session.evaluate('1 + 1', 5000))}\n`)
await session.close()
process.stdout.write('done\n')
