import { describe, expect, it } from "vitest"
import { aptCannotDownload, dpkgQueryFoundNoPackage } from "../../src/domain/AptToolMessages.js"
import { rpmSaysNotInstalled, yumDownloadedOnly, yumListFoundNothing } from "../../src/domain/RpmToolMessages.js"

describe("the messages that say what an exit status does not", () => {
  it("dpkg and apt", () => {
    expect(dpkgQueryFoundNoPackage("dpkg-query: no packages found matching driveclient\n")).toBe(true)
    expect(dpkgQueryFoundNoPackage("dpkg-query: error: parsing file '/var/lib/dpkg/status'\n")).toBe(false)
    expect(aptCannotDownload("E: Version '1.1.0-1' for 'driveclient' was not found\nW: Some packages cannot be downloaded\n"))
      .toBe(true)
    expect(aptCannotDownload("Download complete and in download only mode\n")).toBe(false)
  })

  it("rpm and yum", () => {
    expect(rpmSaysNotInstalled("package driveclient is not installed\n")).toBe(true)
    expect(rpmSaysNotInstalled("error: rpmdb open failed\n")).toBe(false)
    expect(yumListFoundNothing("Error: No matching Packages to list\n")).toBe(true)
    expect(yumListFoundNothing("One of the configured repositories failed (drivesrvr)\n")).toBe(false)
    expect(yumDownloadedOnly("exiting because \"Download Only\" specified\n")).toBe(true)
    expect(yumDownloadedOnly("Error: Error downloading packages:\n")).toBe(false)
  })
})
