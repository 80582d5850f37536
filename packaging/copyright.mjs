// Prints the packages' copyright file (Debian machine-readable format): this project under
// Apache-2.0, plus every npm package that esbuild puts into the bundle, with its version,
// license and copyright lines. The list comes from esbuild's metafile for the same entry point
// and platform as build.mjs, so it is exactly what dist/cloudbackup-updater.js contains.
// A bundled package under a license without a text below fails the build: add the text.
import { build } from "esbuild"
import { readFile, readdir } from "node:fs/promises"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const pkg = JSON.parse(await readFile(path.join(repo, "package.json"), "utf8"))

const result = await build({
  absWorkingDir: repo,
  entryPoints: ["src/main/main.ts"],
  bundle: true,
  platform: "node",
  target: "node18",
  format: "cjs",
  write: false,
  metafile: true,
  logLevel: "silent",
  define: { __UPDATER_VERSION__: JSON.stringify(pkg.version) }
})

const dirs = new Set()
for (const input of Object.keys(result.metafile.inputs)) {
  const match = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input)
  if (match) dirs.add(match[1])
}

const copyrightLines = async (dir) => {
  const names = (await readdir(path.join(repo, dir))).filter((n) => /^(licen[cs]e|copying)/i.test(n))
  const lines = []
  for (const name of names) {
    for (const line of (await readFile(path.join(repo, dir, name), "utf8")).split("\n")) {
      const text = line.trim().replace(/^copyright\s*(\(c\)|©)?\s*/i, "")
      if (/^copyright\b/i.test(line.trim()) && text !== "" && !/notice/i.test(text)) lines.push(text)
    }
  }
  return lines
}

const bundled = []
for (const dir of [...dirs].sort()) {
  const meta = JSON.parse(await readFile(path.join(repo, dir, "package.json"), "utf8"))
  const license = typeof meta.license === "string" ? meta.license : meta.license?.type
  const copyrights = await copyrightLines(dir)
  bundled.push({
    name: meta.name,
    version: meta.version,
    license,
    copyrights: copyrights.length > 0 ? copyrights : [`the ${meta.name} authors`]
  })
}
bundled.sort((a, b) => a.name.localeCompare(b.name))

const TEXTS = {
  MIT: `Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:
.
The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.
.
THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.`,
  ISC: `Permission to use, copy, modify, and/or distribute this software for any
purpose with or without fee is hereby granted, provided that the above
copyright notice and this permission notice appear in all copies.
.
THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHOR DISCLAIMS ALL WARRANTIES
WITH REGARD TO THIS SOFTWARE INCLUDING ALL IMPLIED WARRANTIES OF
MERCHANTABILITY AND FITNESS. IN NO EVENT SHALL THE AUTHOR BE LIABLE FOR
ANY SPECIAL, DIRECT, INDIRECT, OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES
WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN
ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF
OR IN CONNECTION WITH THE USE OR PERFORMANCE OF THIS SOFTWARE.`,
  "Apache-2.0": `Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at
.
    https://www.apache.org/licenses/LICENSE-2.0
.
Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
.
On Debian systems, the complete text of the Apache License, Version 2.0
can be found in "/usr/share/common-licenses/Apache-2.0".`
}

const licenses = [...new Set([pkg.license, ...bundled.map((b) => b.license)])]
const unknown = licenses.filter((l) => !(l in TEXTS))
if (unknown.length > 0) {
  const who = bundled.filter((b) => unknown.includes(b.license)).map((b) => `${b.name} (${b.license})`)
  process.stderr.write(`copyright.mjs: no license text for ${who.join(", ")}: add it to packaging/copyright.mjs\n`)
  process.exit(1)
}

const indent = (text) => text.split("\n").map((l) => ` ${l}`).join("\n")
// COPYRIGHT_YEARS (build.sh: first commit to SOURCE_DATE_EPOCH), else this year.
const years = process.env["COPYRIGHT_YEARS"] || String(new Date().getUTCFullYear())
const own = `${years} the cloudbackup-updater authors`
const holders = [...new Set([own, ...bundled.flatMap((b) => b.copyrights)])]
const out = [
  "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/",
  "Upstream-Name: cloudbackup-updater",
  "",
  "Files: *",
  `Copyright: ${own}`,
  `License: ${pkg.license}`,
  "",
  "Files: usr/bin/cloudbackup-updater",
  `Copyright: ${holders[0]}`,
  ...holders.slice(1).map((h) => ` ${h}`),
  `License: ${licenses.sort().join(" and ")}`,
  "Comment: one JavaScript file bundled by esbuild from the cloudbackup-updater",
  ` sources (${pkg.license}) and these npm packages:`,
  ...bundled.map((b) => `  ${b.name} ${b.version} (${b.license}): ${b.copyrights.join("; ")}`),
  ""
]
for (const license of licenses) out.push(`License: ${license}`, indent(TEXTS[license]), "")
process.stdout.write(`${out.join("\n").trimEnd()}\n`)
