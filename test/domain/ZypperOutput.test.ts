import { describe, expect, it } from "@effect/vitest"
import * as Option from "effect/Option"
import {
  locksHoldAgent,
  searchCandidate,
  searchedVersions,
  zypperFailureLine,
  zypperKeyErrorLine
} from "../../src/domain/ZypperOutput.js"

// As zypper 1.14 prints them (`--xmlout search --details --match-exact --repo drivesrvr --type package driveclient`).
const SEARCH = `<?xml version='1.0'?>
<stream>
<message type="info">Loading repository data...</message>
<message type="info">Reading installed packages...</message>

<search-result version="0.0">
<solvable-list>
<solvable status="other-version" name="driveclient" kind="package" edition="1.2.0-1.el9" arch="x86_64" repository="driveclient backup agent (e2e)"/>
<solvable status="installed" name="driveclient" kind="package" edition="1.1.0-1.el9" arch="x86_64" repository="driveclient backup agent (e2e)"/>
<solvable status="other-version" name="driveclient" kind="package" edition="1.10.0-1.el9" arch="x86_64" repository="driveclient backup agent (e2e)"/>
</solvable-list>
</search-result>
</stream>
`

describe("zypper search", () => {
  it("lists every agent version; the candidate is the newest by rpm order, not the first row", () => {
    expect(searchedVersions(SEARCH)).toEqual(["1.2.0-1.el9", "1.1.0-1.el9", "1.10.0-1.el9"])
    expect(searchCandidate(SEARCH)).toEqual(Option.some("1.10.0-1.el9"))
  })

  it("drops an epoch, and ignores other packages, other kinds and editions that are not versions", () => {
    const xml = [
      `<solvable status="not-installed" name="driveclient" kind="package" edition="1:1.3.0-2" arch="x86_64" repository="r"/>`,
      `<solvable status="not-installed" name="driveclient-extras" kind="package" edition="9.0.0-1" arch="x86_64" repository="r"/>`,
      `<solvable status="not-installed" name="driveclient" kind="patch" edition="8.0.0-1" arch="noarch" repository="r"/>`,
      `<solvable status="not-installed" name="driveclient" kind="package" edition="--oldpackage" arch="x86_64" repository="r"/>`
    ].join("\n")
    expect(searchedVersions(xml)).toEqual(["1.3.0-2"])
  })

  it("nothing found: no candidate", () => {
    expect(searchCandidate(`<stream><message type="info">No matching items found.</message></stream>`)).toEqual(Option.none())
  })
})

describe("zypper locks", () => {
  const locks = (...names: ReadonlyArray<string>) =>
    `<?xml version='1.0'?>\n<stream>\n<locks size="${names.length}">${
      names.map((name, i) => `<lock number="${i + 1}"><name>${name}</name><type>package</type></lock>\n`).join("")
    }</locks></stream>\n`

  it("no locks, or locks of other packages: not held", () => {
    expect(locksHoldAgent(`<?xml version='1.0'?>\n<stream>\n<locks size="0"></locks></stream>\n`)).toBe(false)
    expect(locksHoldAgent(locks("kernel-default", "driveclient-extras", "drive"))).toBe(false)
  })

  it("a lock naming the agent, or a glob matching it: held", () => {
    expect(locksHoldAgent(locks("driveclient"))).toBe(true)
    expect(locksHoldAgent(locks("kernel-default", "drive*"))).toBe(true)
    expect(locksHoldAgent(locks("driveclien?"))).toBe(true)
  })

  it("a lock of another kind (a pattern of that name) does not hold the package", () => {
    expect(locksHoldAgent(`<locks size="1"><lock number="1"><name>driveclient</name><type>pattern</type></lock></locks>`)).toBe(false)
  })
})

describe("zypperFailureLine", () => {
  it("a failing %pre: zypper's summarised Error: line, not rpm's last", () => {
    const stderr = [
      "Installation of driveclient-1.1.0-1.el9.x86_64 failed:",
      "Error: Subprocess failed. Error: RPM failed: driveclient 1.1.0 %pre: failing on purpose",
      "error: %prein(driveclient-1.1.0-1.el9.x86_64) scriptlet failed, exit status 1",
      "error: driveclient-1.1.0-1.el9.x86_64: install failed",
      "error: driveclient-1.0.0-1.el9.x86_64: erase skipped",
      "",
      "Problem occurred during or after installation or removal of packages:",
      "Installation has been aborted as directed.",
      "Please see the above error message for a hint."
    ].join("\n")
    expect(zypperFailureLine({ stdout: "(1/1) Installing: driveclient [...error]\n", stderr, exitCode: 8 }))
      .toBe("Error: Subprocess failed. Error: RPM failed: driveclient 1.1.0 %pre: failing on purpose")
  })

  it("an unreachable repository: the cause, not the closing pointers", () => {
    const stderr = [
      "Problem retrieving files from 'driveclient backup agent (e2e)'.",
      "Download (curl) error for 'http://127.0.0.1:8765/redhat/repodata/repomd.xml':",
      "Error code: Connection failed",
      "Error message: Failed to connect to 127.0.0.1 port 8765 after 0 ms: Couldn't connect to server",
      "",
      "Please see the above error message for a hint.",
      "Skipping repository 'driveclient backup agent (e2e)' because of the above error.",
      "Could not refresh the repositories because of errors."
    ].join("\n")
    expect(zypperFailureLine({ stdout: "", stderr, exitCode: 4 }))
      .toBe("Error message: Failed to connect to 127.0.0.1 port 8765 after 0 ms: Couldn't connect to server")
  })

  it("the error on stderr before the hint on stdout; the exit status when nothing was said", () => {
    expect(zypperFailureLine({
      stdout: "Use 'zypper repos' to get the list of defined repositories.\n",
      stderr: "Repository 'nosuchrepo' not found by its alias, number, or URI.\n",
      exitCode: 3
    })).toBe("Repository 'nosuchrepo' not found by its alias, number, or URI.")
    expect(zypperFailureLine({ stdout: "", stderr: "", exitCode: 4 })).toBe("exit status 4")
  })
})

// `zypper --non-interactive refresh --repo drivesrvr` as zypper 1.14.42 answers it (/tmp/zypper-report.md §2, §3).
const UNKNOWN_KEY = {
  exitCode: 4,
  stdout: `Retrieving repository 'driveclient backup agent (e2e)' metadata [.
Looking for gpg key ID 73CEBD0B in cache /var/cache/zypp/pubkeys.
Looking for gpg key ID 73CEBD0B in repository driveclient backup agent (e2e).
  gpgkey=http://127.0.0.1:8765/redhat/RPM-GPG-KEY-drivesrvr

New repository or package signing key received:

  Repository:       driveclient backup agent (e2e)
  Key Name:         driveclient e2e repository <e2e@driveclient.invalid>
  Key Fingerprint:  3FB15C5D 91229954 0B232EB7 48F07A29 73CEBD0B
  Key Created:      Sun Nov 29 19:19:58 2026
  Key Expires:      Tue Dec  1 19:19:58 2026 (expires in 1 day)
  Rpm Name:         gpg-pubkey-73cebd0b-6b0c7ade


Do you want to reject the key, or trust always? [r/a/?] (r): r
Warning: File 'repomd.xml' from repository 'driveclient backup agent (e2e)' is signed with an unknown key '48F07A2973CEBD0B'.
File 'repomd.xml' from repository 'driveclient backup agent (e2e)' is signed with an unknown key '48F07A2973CEBD0B'. Continue? [yes/no] (no): no
error]
`,
  stderr: `Repository 'driveclient backup agent (e2e)' is invalid.
[drivesrvr|http://127.0.0.1:8765/redhat/] Valid metadata not found at specified URL
History:
 - Signature verification failed for repomd.xml
 - Can't provide /repodata/repomd.xml

Please check if the URIs defined for this repository are pointing to a valid repository.
Skipping repository 'driveclient backup agent (e2e)' because of the above error.
Could not refresh the repositories because of errors.
`
}
const UNKNOWN_KEY_LINE = "File 'repomd.xml' from repository 'driveclient backup agent (e2e)' is signed with an unknown key '48F07A2973CEBD0B'."

describe("zypperKeyErrorLine", () => {
  it("the key not imported: zypper's unknown-key line, naming the key", () => {
    expect(zypperKeyErrorLine(UNKNOWN_KEY, "drivesrvr")).toBe(UNKNOWN_KEY_LINE)
  })

  it("a signature that fails without the unknown-key line: zypper's history line", () => {
    expect(zypperKeyErrorLine({ ...UNKNOWN_KEY, stdout: "Retrieving repository 'driveclient backup agent (e2e)' metadata [.error]\n" }, "drivesrvr"))
      .toBe("Signature verification failed for repomd.xml")
  })

  it("another repository's, or another exit status: not the agent's key error", () => {
    expect(zypperKeyErrorLine(UNKNOWN_KEY, "repo-oss")).toBeUndefined()
    expect(zypperKeyErrorLine({ ...UNKNOWN_KEY, exitCode: 104 }, "drivesrvr")).toBeUndefined()
  })

  it("an unsigned repomd.xml: no key would help", () => {
    const stdout = "Retrieving repository 'driveclient backup agent (e2e)' metadata [.\n" +
      "File 'repomd.xml' from repository 'driveclient backup agent (e2e)' is unsigned, continue? [yes/no] (no): no\nerror]\n"
    expect(zypperKeyErrorLine({ ...UNKNOWN_KEY, stdout }, "drivesrvr")).toBeUndefined()
  })

  it("an unreachable server, a forced refresh that finds no metadata, an unknown alias: other failures", () => {
    const unreachable = [
      "Problem retrieving files from 'driveclient backup agent (e2e)'.",
      "Download (curl) error for 'http://127.0.0.1:8765/redhat/repodata/repomd.xml':",
      "Error code: Connection failed",
      "Error message: Failed to connect to 127.0.0.1 port 8765 after 0 ms: Couldn't connect to server",
      "",
      "Please see the above error message for a hint.",
      "Skipping repository 'driveclient backup agent (e2e)' because of the above error.",
      "Could not refresh the repositories because of errors."
    ].join("\n")
    expect(zypperKeyErrorLine({ exitCode: 4, stdout: "", stderr: unreachable }, "drivesrvr")).toBeUndefined()
    const invalid = [
      "Repository 'driveclient backup agent (e2e)' is invalid.",
      "[drivesrvr|http://127.0.0.1:8765/redhat/] Valid metadata not found at specified URL",
      "History:",
      " - [|] Error trying to read from 'http://127.0.0.1:8765/redhat/'",
      "Skipping repository 'driveclient backup agent (e2e)' because of the above error.",
      "Could not refresh the repositories because of errors."
    ].join("\n")
    expect(zypperKeyErrorLine({ exitCode: 4, stdout: "Forcing raw metadata refresh\n", stderr: invalid }, "drivesrvr")).toBeUndefined()
    expect(zypperKeyErrorLine({
      exitCode: 3,
      stdout: "Use 'zypper repos' to get the list of defined repositories.\n",
      stderr: "Repository 'drivesrvr' not found by its alias, number, or URI.\n"
    }, "drivesrvr")).toBeUndefined()
  })
})
