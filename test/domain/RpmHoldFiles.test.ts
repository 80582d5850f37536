import { describe, expect, it } from "@effect/vitest"
import * as Option from "effect/Option"
import {
  mainConfExcludesAgent,
  specNamesAgent,
  versionlockListNamesAgent,
  versionlockListPath,
  versionlockTomlNamesAgent
} from "../../src/domain/RpmHoldFiles.js"

describe("RpmHoldFiles", () => {
  it.each([
    "driveclient",
    "driveclient*",
    "driveclient-*",
    "driveclient-0:1.1.0-1.el9.*",
    "driveclient-1.1.0-1.el9",
    "driveclient-1.1*",
    "0:driveclient-1.1.0-1.el7.*",
    "*:driveclient-1.1.0-1.el7.*",
    "!driveclient-0:1.2.0-1.el9.*",
    "driveclient.x86_64",
    "drive*",
    "*",
    "driveclien?"
  ])("%s names the agent", (spec) => {
    expect(specNamesAgent(spec)).toBe(true)
  })

  it.each([
    "driveclient-tools",
    "driveclient-tools-0:1.0-1.el9.*",
    "driveclientd",
    "bash-0:5.1.8-6.el9.*",
    "drive",
    "",
    "!"
  ])("%j does not", (spec) => {
    expect(specNamesAgent(spec)).toBe(false)
  })

  it("a versionlock list: entries, not comments or blank lines", () => {
    expect(versionlockListNamesAgent("\n# driveclient-0:1.1.0-1.el9.*\n   \nbash-0:5.1.8-6.el9.*\n")).toBe(false)
    expect(versionlockListNamesAgent("bash-0:5.1.8-6.el9.*\n  driveclient-0:1.1.0-1.el9.*  \n")).toBe(true)
  })

  it("dnf5's versionlock.toml: a package entry's name", () => {
    expect(versionlockTomlNamesAgent('[[packages]]\nname = "driveclient"\n')).toBe(true)
    expect(versionlockTomlNamesAgent("[[packages]]\nname = 'driveclient' # the agent\n")).toBe(true)
    expect(versionlockTomlNamesAgent('[[packages]]\nname = "driveclient-tools"\n# name = "driveclient"\n')).toBe(false)
  })

  it("[main] exclude: only in [main], continuation lines included, comma or space separated", () => {
    expect(mainConfExcludesAgent("[main]\nexclude=kernel*,driveclient*\n")).toBe(true)
    expect(mainConfExcludesAgent("[main]\nexclude=kernel*\n\tdriveclient\n")).toBe(true)
    expect(mainConfExcludesAgent("[main]\nEXCLUDEPKGS = driveclient\n")).toBe(true)
    expect(mainConfExcludesAgent("[main]\nexclude=kernel*\nbest=True\n[drivesrvr]\nexclude=driveclient\n")).toBe(false)
    expect(mainConfExcludesAgent("[main]\n;exclude=driveclient\n#exclude=driveclient\ninstallonly_limit=3\n")).toBe(false)
    expect(mainConfExcludesAgent("exclude=driveclient\n")).toBe(false)
  })

  it("locklist= of the plugin's configuration, only when absolute", () => {
    expect(versionlockListPath("[main]\nenabled=1\nlocklist = /etc/x/locks.list\n")).toEqual(Option.some("/etc/x/locks.list"))
    expect(versionlockListPath("[main]\nenabled=1\n")).toEqual(Option.none())
    expect(versionlockListPath("[main]\nlocklist=relative.list\n")).toEqual(Option.none())
  })
})
