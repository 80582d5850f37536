import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { processStartTime } from "../../../src/layers/internal/ProcessTable.js"
import { startTimeOf, writeBootTime, writeProcess } from "../../support/FakeProc.js"

const procDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "proc-test-"))

const children: Array<ReturnType<typeof spawn>> = []
afterEach(() => {
  for (const child of children.splice(0)) child.kill("SIGKILL")
})

describe("processStartTime", () => {
  it("is the boot time plus the process's start in clock ticks", () => {
    const proc = procDir()
    writeBootTime(proc)
    writeProcess(proc, 4242, 123_456)
    expect(processStartTime(4242, proc)).toBe(startTimeOf(123_456))
  })

  it("reads past a command name with spaces and parentheses", () => {
    const proc = procDir()
    writeBootTime(proc)
    writeProcess(proc, 77, 500, { comm: "drive client) S 1 2" })
    expect(processStartTime(77, proc)).toBe(startTimeOf(500))
  })

  it("is unknown for a process that is gone, a zombie, or without a boot time", () => {
    const proc = procDir()
    writeProcess(proc, 10, 500)
    expect(processStartTime(10, proc)).toBeUndefined()
    writeBootTime(proc)
    expect(processStartTime(11, proc)).toBeUndefined()
    writeProcess(proc, 12, 500, { state: "Z" })
    expect(processStartTime(12, proc)).toBeUndefined()
  })

  it("on the real /proc, a child started after this process", () => {
    const child = spawn("sleep", ["600"], { stdio: "ignore" })
    children.push(child)
    const own = processStartTime(process.pid)
    const started = processStartTime(child.pid!)
    expect(own).toBeDefined()
    expect(started).toBeDefined()
    expect(started!).toBeGreaterThanOrEqual(own!)
  })
})
