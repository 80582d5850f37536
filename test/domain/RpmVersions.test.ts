import { describe, expect, it } from "vitest"
import * as Option from "effect/Option"
import { parseNewestVersion } from "../../src/domain/RpmVersions.js"

describe("RpmVersions.parseNewestVersion", () => {
  it("dnf repoquery: one version a line, a literal \\n, or an epoch", () => {
    expect(parseNewestVersion("1.2.0-1.el9\n")).toEqual(Option.some("1.2.0-1.el9"))
    expect(parseNewestVersion("1.2.0-1.el9\\n")).toEqual(Option.some("1.2.0-1.el9"))
    expect(parseNewestVersion("1.2.0-1.el9\n\n1.10.0-1.el9\n")).toEqual(Option.some("1.10.0-1.el9"))
    expect(parseNewestVersion("1:1.2.0-1.el9\n")).toEqual(Option.some("1.2.0-1.el9"))
    expect(parseNewestVersion("")).toEqual(Option.none())
  })

  it("yum list: the version column, headers and repository names ignored", () => {
    const output = [
      "Loaded plugins: fastestmirror",
      "Available Packages",
      "driveclient.x86_64                  1.1.0-1.el7                   drivesrvr",
      "driveclient.x86_64                  1.2.0-1.el7                   drivesrvr",
      ""
    ].join("\n")
    expect(parseNewestVersion(output)).toEqual(Option.some("1.2.0-1.el7"))
    // yum wraps a long name onto its own line.
    expect(parseNewestVersion("Available Packages\ndriveclient.x86_64\n      1.3.0-2.el7   drivesrvr\n"))
      .toEqual(Option.some("1.3.0-2.el7"))
  })
})
