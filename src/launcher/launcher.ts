/**
 * The launcher, installed as /usr/bin/cloudbackup-updater: it checks that the Node.js running it
 * is one the updater supports and then runs the bundle, /usr/lib/cloudbackup-updater/cloudbackup-updater.js,
 * in the same process. On a Node.js that is too old the bundle would not even parse (a
 * SyntaxError and a stack trace, before any check could run); the launcher instead prints one line
 * naming the runtime it needs and the one it found, and exits 1 (the contract's "failed": not a
 * usage error, and no retry will help until the runtime is changed).
 *
 * It is built by build.mjs for target es5 (esbuild refuses let, const and class there) and must
 * use only ES5 library functions, so that it runs on any Node.js that a distribution ever
 * shipped, 0.10 included. build.mjs writes two copies that differ only in their interpreter line:
 * dist/launcher.js (`#!/usr/bin/node`, the host's nodejs package) and dist/launcher-bundled-node.js
 * (`#!/usr/lib/cloudbackup-updater/node/bin/node`, the flavour that carries its own runtime).
 *
 * process.argv is left as it is: `[node, /usr/bin/cloudbackup-updater, ...arguments]`, which is what
 * the bundle reads (its command from argv[2] on; argv[1], the program's path, in /proc/PID/cmdline
 * is how a pidfile or lock holder is recognised as an updater).
 */
import { type ComparatorSets, satisfiesSets } from "./satisfies.js"

/** package.json's engines.node, as written, and its comparator sets (NodeRange.ts). */
declare var __REQUIRED_NODE__: { readonly range: string; readonly sets: ComparatorSets; readonly advice: string }
/** The bundle's installed path. */
declare var __UPDATER_BUNDLE__: string
/** Where the V8 compile cache is kept (a root-owned directory; never /tmp). */
declare var __COMPILE_CACHE_DIR__: string

var fs = require("fs")
var bundle = __UPDATER_BUNDLE__

function fail(line: string): never {
  process.stderr.write("cloudbackup-updater: " + line + "\n")
  return process.exit(1)
}

var node = process.versions.node
if (!satisfiesSets(node, __REQUIRED_NODE__.sets)) {
  fail(
    "needs Node.js " + __REQUIRED_NODE__.range + ", but " + process.execPath + " is v" + node + ": install " +
      __REQUIRED_NODE__.advice + ", or the cloudbackup-updater package that carries its own Node.js"
  )
}
if (!fs.existsSync(bundle)) fail(bundle + " is missing: reinstall the cloudbackup-updater package")

// V8's compiled code is kept between runs in a root-owned directory: a timer's pass then starts
// without compiling the bundle again.
runBundle(bundle, usableCacheDir(__COMPILE_CACHE_DIR__))

/**
 * `dir` when it can be trusted: root's or this user's own, and no one else can write to it. Created
 * when missing (by root, it is the package's). Another user may read root's cache, but not write it.
 */
function usableCacheDir(dir: string): string | undefined {
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 493 /* 0755 */ })
  } catch (e) {
    // Not allowed to: then it is not there, or someone else's, which the checks below tell.
  }
  try {
    var stat = fs.statSync(dir)
    var owner = stat.uid === 0 || stat.uid === process.getuid!()
    return stat.isDirectory() && owner && (stat.mode & 18 /* 0022 */) === 0 ? dir : undefined
  } catch (e) {
    return undefined
  }
}

/**
 * Runs the bundle as `require` would (a CommonJS module whose `require` is the launcher's: the
 * bundle needs only Node.js's own modules), compiled with V8's code cache from `cacheDir`. The
 * cache is named after the runtime and the bundle file (size, times, inode: a new install is a new
 * file), and written when the process exits if there was none to use and the directory is
 * writable. Written then, it holds every function the run compiled, not only the top level as
 * Node.js's own compile cache (22.8 and newer) does: on Node.js 24 that takes a third more off
 * the start.
 */
function runBundle(file: string, cacheDir: string | undefined) {
  var vm = require("vm")
  var path = require("path")
  var source: string = fs.readFileSync(file, "utf8")
  // The bundle as built starts with an interpreter line, which is not JavaScript inside a function.
  if (source.charAt(0) === "#" && source.charAt(1) === "!") source = "//" + source.slice(2)
  var cacheFile: string | undefined
  var cached: Buffer | undefined
  if (cacheDir !== undefined) {
    var stat = fs.statSync(file)
    var key = "bundle-" + process.version + "-" + process.arch + "-" + [stat.size, stat.mtimeMs, stat.ctimeMs, stat.ino].join("-") + ".v8"
    cacheFile = cacheDir + "/" + key
    try {
      cached = fs.readFileSync(cacheFile)
    } catch (e) {
      cached = undefined
    }
  }
  var script = new vm.Script(
    "(function (exports, require, module, __filename, __dirname) { " + source + "\n})",
    { filename: file, cachedData: cached }
  )
  if (cacheFile !== undefined && (cached === undefined || script.cachedDataRejected === true)) {
    var target = cacheFile
    process.once("exit", function() {
      saveCodeCache(script, cacheDir!, target)
    })
  }
  var bundleModule = { exports: {}, filename: file, id: file, loaded: false }
  script.runInThisContext().call(bundleModule.exports, bundleModule.exports, require, bundleModule, file, path.dirname(file))
}

/** Writes the script's code cache to `target` (through a temporary file), and removes the others. */
function saveCodeCache(script: { createCachedData(): Buffer }, dir: string, target: string) {
  var temporary = target + "." + process.pid + ".tmp"
  try {
    fs.writeFileSync(temporary, script.createCachedData(), { mode: 420 /* 0644 */ })
    fs.renameSync(temporary, target)
    var names: Array<string> = fs.readdirSync(dir)
    for (var i = 0; i < names.length; i++) {
      var name = names[i]!
      if (name.slice(0, 7) === "bundle-" && name.slice(-3) === ".v8" && dir + "/" + name !== target) fs.unlinkSync(dir + "/" + name)
    }
  } catch (e) {
    try {
      fs.unlinkSync(temporary)
    } catch (ignored) {
      // Never written.
    }
  }
}
