import { spawnSync } from "node:child_process"
import { build } from "esbuild"
import { describe, expect, it } from "vitest"
import * as Cli from "../../src/main/Cli.js"
import * as DaemonMemory from "../../src/main/DaemonMemory.js"

const argvs = [
  [],
  ["-d"],
  ["--daemon"],
  ["-r", "http://mirror.example/", "-d", "-l", "/var/log/x.log"],
  ["-r", "http://mirror.example/"],
  ["--staged"],
  ["--dry-run", "-v"],
  ["status"],
  ["status", "-d"],
  ["simulate", "--hosts", "10"],
  ["--help"],
  ["-d", "--help"]
].map((words) => ["node", "cloudbackup-updater", ...words])

describe("DaemonMemory", () => {
  it("runsDaemon says what Cli.runsDaemon says", () => {
    for (const argv of argvs) expect(DaemonMemory.runsDaemon(argv), argv.join(" ")).toBe(Cli.runsDaemon(argv))
  })

  it("names only flags this runtime's V8 knows (an unknown one is an error on stderr)", () => {
    const known = spawnSync(process.execPath, ["--v8-options"], { encoding: "utf8" }).stdout
    for (const flag of DaemonMemory.flagsFor(process.versions.v8)) {
      const name = /^--(?:no-)?([a-z0-9-]+)/.exec(flag)![1]!
      expect(known, flag).toMatch(new RegExp(`^\\s+--${name}[ (]`, "m"))
    }
  })

  it("leaves Maglev alone on a V8 that has none", () => {
    expect(DaemonMemory.flagsFor("10.1.124.8-node.13")).not.toContain("--no-maglev")
    expect(DaemonMemory.flagsFor("11.3.244.8-node.17")).toContain("--no-maglev")
    expect(DaemonMemory.flagsFor("13.6.233.10-node.28")).toContain("--no-maglev")
  })

  it("as the daemon's first module: sets the flags, collects, prints nothing and exposes no global gc", async () => {
    const { outputFiles } = await build({
      entryPoints: [new URL("../../src/main/DaemonMemory.ts", import.meta.url).pathname],
      bundle: true,
      platform: "node",
      format: "cjs",
      write: false,
      logLevel: "silent"
    })
    const script = `${outputFiles[0]!.text}
      module.exports.limitFootprint()
      module.exports.reduceMemory(); module.exports.reduceMemory()
      console.log(typeof globalThis.gc)`
    // As \`cloudbackup-updater -d\` would: the module's own check sets the flags first.
    const result = spawnSync(process.execPath, ["-e", script, "cloudbackup-updater", "-d"], { encoding: "utf8" })
    expect(result.stderr).toBe("")
    expect(result.stdout.trim()).toBe("undefined")
    expect(result.status).toBe(0)
  })
})
