// Bundles the CLI into one self-contained file for packaging, and writes its shell completions.
import { build } from "esbuild"
import { execFileSync } from "node:child_process"
import { chmod, mkdir, readFile, rm, writeFile } from "node:fs/promises"

const pkg = JSON.parse(await readFile(new URL("./package.json", import.meta.url), "utf8"))

await build({
  entryPoints: ["src/main/main.ts"],
  outfile: "dist/cloudbackup-updater.js",
  bundle: true,
  platform: "node",
  target: "node18",
  format: "cjs",
  minify: true,
  legalComments: "none",
  banner: { js: "#!/usr/bin/env node" },
  define: { __UPDATER_VERSION__: JSON.stringify(pkg.version) },
  logLevel: "warning"
})

// The bash and zsh completions, written from the option specs (src/main/Completions.ts) by a
// small bundle that node runs from stdin: dist/completions/cloudbackup-updater (bash) and
// dist/completions/_cloudbackup-updater (zsh), which packaging/build.sh installs.
const generator = await build({
  entryPoints: ["src/main/completionsScripts.ts"],
  bundle: true,
  platform: "node",
  target: "node18",
  format: "cjs",
  write: false,
  logLevel: "warning"
})
const scripts = JSON.parse(execFileSync(process.execPath, ["-"], { input: generator.outputFiles[0].text, encoding: "utf8" }))
const completions = new URL("./dist/completions/", import.meta.url)
await rm(completions, { recursive: true, force: true })
await mkdir(completions, { recursive: true })
for (const [name, text] of Object.entries(scripts)) await writeFile(new URL(name, completions), text, { mode: 0o644 })

// The launcher (src/launcher/launcher.ts): what the packages install as /usr/bin/cloudbackup-updater.
// It checks the running Node.js against package.json's engines.node, parsed here by semver (at
// build time: semver is not ES5), and then requires the bundle from its installed path. Built for
// target es5 so that even an ancient /usr/bin/node gets as far as saying what it needs. Two copies
// that differ only in the interpreter line: the host's node, and the runtime the package carries.
const nodeRange = await build({
  entryPoints: ["src/launcher/NodeRange.ts"],
  bundle: true,
  platform: "node",
  format: "esm",
  write: false,
  logLevel: "warning"
})
const { comparatorSets, advice } = await import(
  `data:text/javascript;base64,${Buffer.from(nodeRange.outputFiles[0].text).toString("base64")}`
)
const range = pkg.engines.node
const installedBundle = "/usr/lib/cloudbackup-updater/cloudbackup-updater.js"
const launcher = await build({
  entryPoints: ["src/launcher/launcher.ts"],
  bundle: true,
  platform: "node",
  target: "es5",
  format: "cjs",
  write: false,
  legalComments: "none",
  // Loaded at run time from where the package installs it, not bundled.
  external: [installedBundle],
  define: {
    __REQUIRED_NODE__: JSON.stringify({ range, sets: comparatorSets(range), advice: advice(range) }),
    __UPDATER_BUNDLE__: JSON.stringify(installedBundle),
    __COMPILE_CACHE_DIR__: JSON.stringify("/var/cache/cloudbackup-updater")
  },
  logLevel: "warning"
})
for (const [file, interpreter] of [
  ["dist/launcher.js", "/usr/bin/node"],
  ["dist/launcher-bundled-node.js", "/usr/lib/cloudbackup-updater/node/bin/node"]
]) {
  await writeFile(file, `#!${interpreter}\n${launcher.outputFiles[0].text}`)
  await chmod(file, 0o755)
}
