/**
 * Idle memory of the daemon after its first pass, against bare `node` idling, both in the same
 * end-to-end root in the same run (as root: `npm run build && npx vitest run --config bench/vitest.config.ts`).
 * It reports the ratio; it asserts only that the daemon really finished a pass.
 */
import { expect, it } from "vitest"
import { sleep } from "../test/e2e/lib/procfs.js"
import { useScenarios } from "../test/e2e/lib/scenario.js"
import { readFile } from "node:fs/promises"

const rssKiB = async (pid: number): Promise<number> => {
  const status = await readFile(`/proc/${pid}/status`, "utf8")
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1])
}

const scenarios = useScenarios()

it("daemon RSS after one pass vs node idling", async () => {
  const s = await scenarios.create("apt")
  await s.publish(["1.0.0", "1.1.0"], "1.1.0")
  await s.configureRepo()
  await s.installAgent("1.1.0", { running: true })

  const daemon = await s.startUpdater({ args: ["-d", "-l", "/var/log/updater.log", "-p", "/run/updater.pid"] })
  let log = ""
  for (let i = 0; i < 300 && !log.includes("is up to date"); i++) {
    await sleep(100)
    log = await s.root.readFileOr("/var/log/updater.log", "")
  }
  expect(log, "the daemon's first pass").toContain("is up to date")
  const bare = s.root.start(["/usr/local/bin/node", "-e", "setInterval(() => {}, 1e6)"])
  await sleep(3000)
  const [daemonRss, bareRss] = [await rssKiB(daemon.pid), await rssKiB(bare.pid)]
  console.info(
    `daemon after one pass: ${(daemonRss / 1024).toFixed(1)} MiB; node idling: ${(bareRss / 1024).toFixed(1)} MiB; ` +
      `ratio ${(daemonRss / bareRss).toFixed(2)}x`
  )
  process.kill(daemon.pid, "SIGTERM")
  process.kill(bare.pid, "SIGKILL")
  expect((await daemon.done).code, "a SIGTERM ends the daemon cleanly").toBe(0)
  await bare.done
})
