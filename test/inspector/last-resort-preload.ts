// Preloaded (--import) into the CLI by last-resort.test.ts: once the CLI has installed its
// last resort, throw what a target session could (a ProtocolError, uncaught; a CommandError,
// unhandled), print "alive after target errors" if the process survived them, then throw what
// only a bug would (a TypeError), which must end the process with exit code 1.
import { CommandError, ProtocolError } from '../../src/core/errors.js'

// Only when preloaded by that test (`tap test/inspector` would also run this file).
const preloaded = process.env.LEAKWATCH_LAST_RESORT_PRELOAD === '1'
const handlers = (): number => process.listenerCount('uncaughtException')
const started = Date.now()
const waitForHandler = setInterval(() => {
  if (!preloaded) {
    clearInterval(waitForHandler)
    return
  }
  if (handlers() === 0) {
    if (Date.now() - started > 20_000) {
      clearInterval(waitForHandler)
      process.stderr.write('preload: the CLI never installed a handler\n')
      process.exit(3)
    }
    return
  }
  clearInterval(waitForHandler)
  setTimeout(() => {
    throw new ProtocolError('inspector target sent a websocket message that is not JSON')
  }, 10)
  setTimeout(() => void Promise.reject(new CommandError('no such method')), 20)
  setTimeout(() => process.stdout.write('alive after target errors\n'), 200)
  setTimeout(() => {
    throw new TypeError('a real bug in leakwatch')
  }, 300)
}, 20)
