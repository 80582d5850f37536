import { describe, expect, it } from "vitest"
import * as Option from "effect/Option"
import { dpkgPackages, parseDpkgQuery, unfinishedState } from "../../src/domain/DpkgQuery.js"

describe("DpkgQuery", () => {
  it("parseDpkgQuery prefers an installed line among several architectures", () => {
    expect(parseDpkgQuery("config-files 1.0.0-1\ninstalled 1.1.0-1\n")).toEqual(Option.some("1.1.0-1"))
    expect(parseDpkgQuery("not-installed \n")).toEqual(Option.none())
    expect(parseDpkgQuery("")).toEqual(Option.none())
  })

  it("dpkgPackages: one state and version a line, other lines ignored", () => {
    expect(dpkgPackages("installed 1.1.0-1\nhalf-configured 1:1.2.0-1\nnot-installed \n\n")).toEqual([
      { state: "installed", version: "1.1.0-1" },
      { state: "half-configured", version: "1:1.2.0-1" }
    ])
  })

  it("unfinishedState: a state a transaction left half-way, not installed or removed ones", () => {
    expect(unfinishedState("half-configured 1.2.0-1\n")).toEqual(Option.some("half-configured"))
    expect(unfinishedState("installed 1.1.0-1\ntriggers-pending 1.1.0-1\n")).toEqual(Option.some("triggers-pending"))
    expect(unfinishedState("installed 1.1.0-1\nconfig-files 1.0.0-1\n")).toEqual(Option.none())
    expect(unfinishedState("")).toEqual(Option.none())
  })
})
