import { describe, expect, it } from "vitest"
import { aptCannotDownload, aptKeyErrorLine, dpkgQueryFoundNoPackage } from "../../src/domain/AptToolMessages.js"

const aptKeyErrorFor = (output: string, uri: string) => aptKeyErrorLine(output, uri) !== undefined
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

  describe("apt-get update's key and signature errors, for the agent's source only", () => {
    const uri = "https://agentrepo.example.test/debian/"
    const source = "https://agentrepo.example.test/debian serveragent InRelease"
    it.each([
      [
        "apt 2 (gpgv), missing key",
        `W: GPG error: ${source}: The following signatures couldn't be verified because the public key is not available: NO_PUBKEY 36F6BE8F9DE9A1D1\nE: The repository '${source}' is not signed.\n`
      ],
      ["apt 2, expired key", `W: GPG error: ${source}: The following signatures were invalid: EXPKEYSIG 36F6BE8F9DE9A1D1 Agent Repository <repo@example.test>\n`],
      ["apt 2, bad signature", `W: GPG error: ${source}: The following signatures were invalid: BADSIG 36F6BE8F9DE9A1D1 Agent Repository\n`],
      [
        "apt 3 (sqv), missing key",
        `W: OpenPGP signature verification failed: ${source}: Sub-process /usr/bin/sqv returned an error code (1), error message is: Missing key B60FE3E7EC6B17FAC06906E29A1F1B7F5CFEB7D8, which is needed to verify signature.\nE: The repository '${source}' is not signed.\n`
      ],
      ["a repository no longer signed", `E: The repository '${source}' is no longer signed.\n`]
    ])("%s", (_, output) => {
      expect(aptKeyErrorFor(output, uri)).toBe(true)
    })

    it("not another source's key error, nor a network error for the agent's source", () => {
      expect(aptKeyErrorFor("W: GPG error: https://deb.example.test/debian bookworm InRelease: NO_PUBKEY 0123456789ABCDEF\n", uri)).toBe(false)
      expect(aptKeyErrorFor("W: GPG error: https://agentrepo.example.test/debian-testing serveragent InRelease: NO_PUBKEY 01\n", uri)).toBe(false)
      expect(aptKeyErrorFor(`E: Failed to fetch ${uri}dists/serveragent/InRelease  Could not resolve 'agentrepo.example.test'\n`, uri)).toBe(false)
    })
  })
})
