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

// Node.js 22.8 and newer can keep V8's compiled code between runs: a timer's pass starts faster.
// It never throws; where the directory cannot be written (not root) it is simply not used.
var nodeModule = require("module")
if (typeof nodeModule.enableCompileCache === "function") nodeModule.enableCompileCache(__COMPILE_CACHE_DIR__)

require(bundle)
