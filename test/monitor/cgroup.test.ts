import { mkdirSync, writeFileSync } from 'node:fs'
import t from 'tap'
import { parseMemoryLimit, parseProcCgroup, readCgroupMemoryLimit } from '../../src/monitor/cgroup.js'

t.test('parses /proc/<pid>/cgroup for v2 and v1', async (t) => {
  t.same(parseProcCgroup('0::/kubepods/pod1/abc\n'), { version: 2, path: '/kubepods/pod1/abc' })
  t.same(parseProcCgroup('12:cpu,cpuacct:/x\n4:memory:/kubepods/pod1/abc\n'), { version: 1, path: '/kubepods/pod1/abc' })
  t.equal(parseProcCgroup('garbage'), undefined)
})

t.test('memory limit files: bytes, max, v1 unlimited', async (t) => {
  t.equal(parseMemoryLimit('536870912\n'), 536870912)
  t.equal(parseMemoryLimit('max\n'), undefined)
  t.equal(parseMemoryLimit('9223372036854771712'), undefined, 'v1 "unlimited"')
  t.equal(parseMemoryLimit('-1'), undefined)
})

t.test('reads the limit through a fake root; unreadable means unknown', async (t) => {
  const root = t.testdir({})
  mkdirSync(`${root}/proc/42`, { recursive: true })
  writeFileSync(`${root}/proc/42/cgroup`, '0::/pods/app\n')
  mkdirSync(`${root}/sys/fs/cgroup/pods/app`, { recursive: true })
  writeFileSync(`${root}/sys/fs/cgroup/pods/app/memory.max`, '268435456\n')
  t.equal(readCgroupMemoryLimit(42, `${root}/`), 268435456)
  t.equal(readCgroupMemoryLimit(43, `${root}/`), undefined)
  // This very process: whatever the machine says, it must not throw.
  const own = readCgroupMemoryLimit(process.pid)
  t.ok(own === undefined || own > 0)
})
