import { describe, expect, it } from "vitest"
import * as Option from "effect/Option"
import { isDebVersion } from "../../src/domain/DebVersion.js"
import { compareRpmVersions, isRpmVersion, newestRpmVersion } from "../../src/domain/RpmVersions.js"

describe("package versions as the tools take them", () => {
  it.each(["1.1.0-1", "2:1.1.0-1", "1.1.0", "1.1.0~rc1-1ubuntu2"])("%j is a Debian version", (version) => {
    expect(isDebVersion(version)).toBe(true)
  })

  it.each(["", "1.1.0-1 --reinstall", "-o=APT::Get::Purge=1", "driveclient"])("%j is not", (version) => {
    expect(isDebVersion(version)).toBe(false)
  })

  it.each(["1.1.0-1.el9", "1:1.1.0-1.el9", "1.1.0-1"])("%j is an rpm version-release", (version) => {
    expect(isRpmVersion(version)).toBe(true)
  })

  it.each(["1.1.0", "", "1.1.0-1.el9 --nogpgcheck", "-1.el9"])("%j is not", (version) => {
    expect(isRpmVersion(version)).toBe(false)
  })

  it("rpm versions: by upstream part, then by release", () => {
    expect(compareRpmVersions("1.10.0-1.el9", "1.9.0-1.el9")).toBeGreaterThan(0)
    expect(compareRpmVersions("1.2.0-2.el9", "1.2.0-10.el9")).toBeLessThan(0)
    expect(compareRpmVersions("1.2.0-1.el9", "1.2.0-1.el9")).toBe(0)
    expect(newestRpmVersion(["1.2.0-1.el9", "1.10.0-1.el9", "1.9.0-3.el9"])).toEqual(Option.some("1.10.0-1.el9"))
    expect(newestRpmVersion([])).toEqual(Option.none())
  })
})
