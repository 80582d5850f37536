import { describe, expect, it } from "vitest"
import { agentRepositoryKeys, definesAgentRepository, yumRepoProblem } from "../../src/domain/YumRepoFile.js"

const HTTPS_BASE = "https://agentrepo.example.test"
const HTTP_BASE = "http://127.0.0.1:8080"
const KEY_LINE = "gpgkey=https://agentrepo.example.test/redhat/RPM-GPG-KEY"
const good = `[drivesrvr]\nname=Cloud Backup\nbaseurl=https://agentrepo.example.test/redhat/\ngpgcheck=1\n${KEY_LINE}\n`
const lab = "[drivesrvr]\nname=Cloud Backup\nbaseurl=http://127.0.0.1/redhat/\ngpgcheck=1\ngpgkey=http://127.0.0.1/redhat/KEY\n"
const section = (...lines: ReadonlyArray<string>) => `[drivesrvr]\n${lines.join("\n")}\n`
const where = "the [drivesrvr] section"

describe("yumRepoProblem", () => {
  it("accepts a repo file with a [drivesrvr] section, a baseurl, gpgcheck=1 and an https gpgkey", () => {
    expect(yumRepoProblem(good, HTTPS_BASE)).toBeUndefined()
    expect(yumRepoProblem(`# comment\n; another\n\n${good}`, HTTPS_BASE)).toBeUndefined()
  })

  it("accepts every allowed key, with yes/true/on spellings", () => {
    const all = section(
      "name=Cloud Backup agent",
      "baseurl=https://agentrepo.example.test/redhat/$basearch/",
      "mirrorlist=https://agentrepo.example.test/mirrors",
      "metalink=https://agentrepo.example.test/metalink",
      "enabled=1",
      "gpgcheck=yes",
      "repo_gpgcheck=true",
      "pkg_gpgcheck=on",
      KEY_LINE,
      "sslverify=1",
      "type=rpm-md",
      "autorefresh=1",
      "metadata_expire=6h",
      "skip_if_unavailable=False",
      "failovermethod=priority"
    )
    expect(yumRepoProblem(all, HTTPS_BASE)).toBeUndefined()
  })

  it("accepts multi-line baseurl and gpgkey values (continuation lines) and CRLF line ends", () => {
    const multiLine = section(
      "name=Cloud Backup",
      "baseurl=https://agentrepo.example.test/redhat/",
      "        https://mirror.example.test/redhat/",
      "gpgcheck=1",
      "gpgkey=https://agentrepo.example.test/redhat/KEY-1",
      "\thttps://agentrepo.example.test/redhat/KEY-2"
    )
    expect(yumRepoProblem(multiLine, HTTPS_BASE)).toBeUndefined()
    expect(yumRepoProblem(multiLine.replace(/\n/g, "\r\n"), HTTPS_BASE)).toBeUndefined()
  })

  it("plain http URLs only when the -r base itself is plain http (a lab mirror)", () => {
    expect(yumRepoProblem(lab, HTTP_BASE)).toBeUndefined()
    expect(yumRepoProblem(lab, HTTPS_BASE)).toBe(`${where} has baseurl http://127.0.0.1/redhat/, not https://`)
  })

  it.each([
    ["", "the repo file is empty"],
    ["[other]\nbaseurl=http://x/\n", "no [drivesrvr] section"],
    ["[drivesrvr]\nname=x\n", `${where} has no baseurl`],
    ["[drivesrvr]\nbaseurl=\n", `${where} has no baseurl`],
    ["<html><body>404</body></html>", "line 1 is not a repo file line"],
    ["baseurl=http://x/\n[drivesrvr]\n", "line 1 is not a repo file line"],
    // Accepted before the policy; a second section could add a repository of any priority without gpgcheck.
    [`# comment\n\n[other]\nbaseurl=x\n${good}`, "a second section [other]: the repo file may define only [drivesrvr]"],
    [`${good}[evil]\nbaseurl=https://evil.example/\npriority=1\ngpgcheck=0\n`, "a second section [evil]: the repo file may define only [drivesrvr]"],
    [`${good}${good}`, "line 6: the section [drivesrvr] appears twice"],
    [`${good}gpgcheck=0\n`, "line 6: gpgcheck appears twice in [drivesrvr]"],
    [good.replace("gpgcheck=1", "gpgcheck=0"), `${where} turns gpgcheck off`],
    [good.replace("gpgcheck=1", "gpgcheck=No"), `${where} turns gpgcheck off`],
    [good.replace("gpgcheck=1", "gpgcheck=maybe"), `${where} has gpgcheck=maybe, not 1`],
    [good.replace("gpgcheck=1\n", ""), `${where} has no gpgcheck=1`],
    [`${good}repo_gpgcheck=false\n`, `${where} turns repo_gpgcheck off`],
    [`${good}pkg_gpgcheck=0\n`, `${where} turns pkg_gpgcheck off`],
    [`${good}sslverify=off\n`, `${where} turns sslverify off`],
    [good.replace(`${KEY_LINE}\n`, ""), `${where} names no gpgkey`],
    [good.replace(KEY_LINE, "gpgkey="), `${where} names no gpgkey`],
    [`${good}priority=1\n`, `${where} may not set priority (allowed: name, baseurl, mirrorlist, metalink, enabled, gpgcheck, repo_gpgcheck, pkg_gpgcheck, gpgkey, sslverify, type, autorefresh, metadata_expire, skip_if_unavailable, failovermethod)`],
    [`${good}module_hotfixes=1\n`, `${where} may not set module_hotfixes (allowed: name, baseurl, mirrorlist, metalink, enabled, gpgcheck, repo_gpgcheck, pkg_gpgcheck, gpgkey, sslverify, type, autorefresh, metadata_expire, skip_if_unavailable, failovermethod)`],
    [`${good}sslcacert=/tmp/evil-ca.pem\n`, `${where} may not set sslcacert (allowed: name, baseurl, mirrorlist, metalink, enabled, gpgcheck, repo_gpgcheck, pkg_gpgcheck, gpgkey, sslverify, type, autorefresh, metadata_expire, skip_if_unavailable, failovermethod)`],
    [good.replace("baseurl=https://", "baseurl=http://"), `${where} has baseurl http://agentrepo.example.test/redhat/, not https://`],
    [good.replace("baseurl=https://agentrepo.example.test/redhat/", "baseurl=https://a.example/\n  http://b.example/"), `${where} has baseurl http://b.example/, not https://`],
    [`${good}mirrorlist=http://mirrors.example/\n`, `${where} has mirrorlist http://mirrors.example/, not https://`],
    [`${good}metalink=ftp://mirrors.example/metalink\n`, `${where} has metalink ftp://mirrors.example/metalink, not https://`],
    [good.replace(KEY_LINE, "gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-evil"), `${where} has gpgkey file:///etc/pki/rpm-gpg/RPM-GPG-KEY-evil, not https://`],
    [good.replace(KEY_LINE, `${KEY_LINE}\n http://evil.example/KEY`), `${where} has gpgkey http://evil.example/KEY, not https://`],
    ["  continuation=before any key\n[drivesrvr]\n", "line 1 is not a repo file line"]
  ])("refuses %j", (text, problem) => {
    expect(yumRepoProblem(text, HTTPS_BASE)).toBe(problem)
    expect(problem).not.toContain("\n")
  })

  it("a plain http base still refuses ftp:, file: and turned-off checks", () => {
    expect(yumRepoProblem(lab.replace("gpgkey=http://", "gpgkey=file://"), HTTP_BASE)).toBe(
      `${where} has gpgkey file://127.0.0.1/redhat/KEY, not https:// or http://`
    )
    expect(yumRepoProblem(lab.replace("gpgcheck=1", "gpgcheck=0"), HTTP_BASE)).toBe(`${where} turns gpgcheck off`)
  })

  it("finds the agent repository in an installed repo file", () => {
    expect(definesAgentRepository(good)).toBe(true)
    expect(definesAgentRepository(good.replace(/\n/g, "\r\n"))).toBe(true)
    expect(definesAgentRepository("[drivesrvr-testing]\nbaseurl=x\n")).toBe(false)
  })
})

describe("agentRepositoryKeys", () => {
  it("the gpgkey URLs of [drivesrvr] only, split by spaces or commas", () => {
    const text = [
      "[other]",
      "gpgkey=https://elsewhere.example/KEY",
      "[drivesrvr]",
      "baseurl=https://agentrepo.example/redhat/",
      "gpgkey=https://agentrepo.example/redhat/KEY-1 https://agentrepo.example/redhat/KEY-2,https://agentrepo.example/redhat/KEY-3"
    ].join("\n")
    expect(agentRepositoryKeys(text)).toEqual([
      "https://agentrepo.example/redhat/KEY-1",
      "https://agentrepo.example/redhat/KEY-2",
      "https://agentrepo.example/redhat/KEY-3"
    ])
    expect(agentRepositoryKeys("[drivesrvr]\nbaseurl=https://x/\n")).toEqual([])
  })

  it("follows a multi-line gpgkey, with CRLF line ends", () => {
    const text = section(
      "baseurl=https://agentrepo.example/redhat/",
      "gpgkey=https://agentrepo.example/redhat/KEY-1",
      "    https://agentrepo.example/redhat/KEY-2",
      "gpgcheck=1"
    ).replace(/\n/g, "\r\n")
    expect(agentRepositoryKeys(text)).toEqual(["https://agentrepo.example/redhat/KEY-1", "https://agentrepo.example/redhat/KEY-2"])
  })
})
