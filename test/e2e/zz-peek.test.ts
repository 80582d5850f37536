import { describe, it } from "vitest"
import { Faults } from "./lib/repoServer.js"
import { useScenarios } from "./lib/scenario.js"
import { describeResult } from "./lib/exec.js"
describe("peek", () => {
  const scenarios = useScenarios()
  it("outputs", async () => {
    const s = await scenarios.create((process.env["PEEK_PM"] ?? "apt") as "apt" | "dnf")
    await s.publish(["1.0.0", "1.1.0"], "1.1.0")
    await s.configureRepo()
    await s.installAgent("1.0.0", { running: true })
    for (const f of [Faults.status(500), Faults.html, Faults.garbage, Faults.empty]) {
      s.server.injectFault("/version.txt", f)
      console.log(describeResult(await s.runUpdater()))
    }
    s.server.clearFaults()
    console.log(describeResult(await s.runUpdater({ args: ["-v"] })))
  })
})
