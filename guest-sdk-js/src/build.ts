#!/usr/bin/env node
/**
 * `rulegate-build src/rules.ts -o rules.wasm`: bundles a rules module with everything it
 * imports into one JavaScript file (esbuild), then makes it a component of the
 * contract's world (componentize-qjs: the QuickJS engine, initialised with the module
 * and snapshotted at build time) with every WASI import replaced by a stub that traps,
 * so the component imports nothing outside the contract and answers the same cart the
 * same way every time. A source that imports anything else (Node's modules, a package
 * that needs them) is refused with the import named.
 */

import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { componentize } from "componentize-qjs";
import { build, type Message } from "esbuild";

import { nondeterministicUses } from "./nondeterminism.js";

/** The contract's WIT, shipped with the package. */
const WIT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "wit");

const USAGE = "usage: rulegate-build <rules.ts|rules.js> -o <rules.wasm>";

/** A build failure with what the merchant should do. */
class BuildError extends Error {}

function parseArgs(argv: string[]): { source: string; out: string } {
  let source: string | undefined;
  let out: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "-o" || arg === "--out") {
      out = argv[++i];
    } else if (arg === "-h" || arg === "--help") {
      console.log(USAGE);
      process.exit(0);
    } else if (arg !== undefined && !arg.startsWith("-") && source === undefined) {
      source = arg;
    } else {
      throw new BuildError(`unexpected argument ${JSON.stringify(arg)}\n${USAGE}`);
    }
  }
  if (source === undefined || out === undefined) {
    throw new BuildError(USAGE);
  }
  return { source: resolve(source), out: resolve(out) };
}

function describe(message: Message): string {
  const where = message.location
    ? `${message.location.file}:${message.location.line}:${message.location.column}: `
    : "";
  return `${where}${message.text}`;
}

/** The SDK's compiled sources, beside this file. */
const SDK = dirname(fileURLToPath(import.meta.url));

/** The module with the SDK's log wired to the host's, its decisions exported through the
 * SDK's boundary (`wire.ts`), and every import bundled in. */
async function bundle(source: string, dir: string): Promise<string> {
  const entry = join(dir, "entry.js");
  await writeFile(
    entry,
    [
      `import { log as hostLog } from "rulegate:checkout/host@0.2.0";`,
      `import { log } from "@rulegate/sdk";`,
      `import { exported } from ${JSON.stringify(join(SDK, "wire.js"))};`,
      `import { decisions as rules } from ${JSON.stringify(source)};`,
      `log.useHost(hostLog);`,
      `export const decisions = exported(rules);`,
      "",
    ].join("\n"),
  );
  const bundled = join(dir, "rules.js");
  const sdk = join(SDK, "index.js");
  try {
    await build({
      entryPoints: [entry],
      outfile: bundled,
      bundle: true,
      format: "esm",
      platform: "neutral",
      target: "es2022",
      mainFields: ["module", "main"],
      alias: { "@rulegate/sdk": sdk },
      external: ["rulegate:checkout/*"],
      logLevel: "silent",
    });
  } catch (error) {
    const errors: Message[] = (error as { errors?: Message[] }).errors ?? [];
    const unresolved = errors.filter((message) => message.text.startsWith("Could not resolve"));
    if (unresolved.length > 0) {
      throw new BuildError(
        `${unresolved.map(describe).join("\n")}\n` +
          "a rules module imports only its own files, pure-JavaScript packages and @rulegate/sdk: " +
          "it runs with no file system, network, clock or randomness",
      );
    }
    throw new BuildError(errors.map(describe).join("\n") || String(error));
  }
  return bundled;
}

async function main(): Promise<void> {
  const { source, out } = parseArgs(process.argv.slice(2));
  const dir = await mkdtemp(join(tmpdir(), "rulegate-build-"));
  try {
    const bundled = await bundle(source, dir);
    const uses = nondeterministicUses(await readFile(bundled, "utf8"));
    if (uses.length > 0) {
      throw new BuildError(
        uses
          .map((use) => `${use.file ?? "the module"}: ${use.what} (bundle line ${use.line}); use ${use.instead}`)
          .join("\n") +
          "\na rules module runs with no clock, randomness, timers or network, so the same cart always gets the same answer",
      );
    }
    const began = Date.now();
    const { component } = await componentize({
      witPath: WIT,
      world: "rules",
      jsSource: await readFile(bundled, "utf8"),
      jsPath: bundled,
      // No clock, randomness, files or network: an import of WASI traps if reached.
      stubWasi: true,
      // The contract's functions are synchronous.
      sync: true,
    });
    await writeFile(out, component);
    console.log(
      `built ${out} (${(component.length / 1e6).toFixed(1)} MB) in ${((Date.now() - began) / 1000).toFixed(1)} s; ` +
        `check it with: rulegate check ${out}`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(`rulegate-build: ${error instanceof BuildError ? error.message : String(error)}`);
  process.exit(error instanceof BuildError ? 2 : 1);
});
