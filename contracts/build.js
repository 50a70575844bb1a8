#!/usr/bin/env node
// Compiles the contracts with the pinned solc (package.json) into artifacts/NAME.json:
// the ABI, the creation and runtime bytecode, and the compiler version and settings.
//
//   node build.js              write artifacts/
//   node build.js --out DIR    write into DIR instead (the tests rebuild into a temp dir)
//   node build.js --check      fail unless a rebuild gives the committed bytes (npm test)
"use strict";

const fs = require("fs");
const path = require("path");
const solc = require("solc");

const ROOT = __dirname;
const SOURCES = ["Vault.sol", "SparseMerkleProof.sol", "TestToken.sol", "SMTHarness.sol"];
const CONTRACTS = {Vault: "Vault.sol", TestToken: "TestToken.sol", SMTHarness: "SMTHarness.sol"};
const SETTINGS = {
  optimizer: {enabled: true, runs: 200},
  // Cancun: what current EVM chains run; no opcode from later forks in the code.
  evmVersion: "cancun",
  // No IPFS hash of the metadata: the bytes depend on the sources and settings alone.
  metadata: {bytecodeHash: "none"},
  outputSelection: {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}},
};

function compile() {
  const sources = {};
  for (const name of SOURCES) {
    sources[name] = {content: fs.readFileSync(path.join(ROOT, name), "utf8")};
  }
  const input = {language: "Solidity", sources, settings: SETTINGS};
  const output = JSON.parse(solc.compile(JSON.stringify(input)));
  const errors = (output.errors || []).filter((e) => e.severity === "error");
  for (const e of output.errors || []) process.stderr.write(e.formattedMessage + "\n");
  if (errors.length) throw new Error(`solc: ${errors.length} error(s)`);
  const artifacts = {};
  for (const [name, file] of Object.entries(CONTRACTS)) {
    const c = output.contracts[file][name];
    const artifact = {
      contractName: name,
      sourceName: file,
      compiler: {version: solc.version(), settings: SETTINGS},
      abi: c.abi,
      bytecode: "0x" + c.evm.bytecode.object,
      deployedBytecode: "0x" + c.evm.deployedBytecode.object,
    };
    artifacts[`${name}.json`] = JSON.stringify(artifact, null, 2) + "\n";
  }
  return artifacts;
}

function main(argv) {
  const artifacts = compile();
  const committed = path.join(ROOT, "artifacts");
  if (argv[0] === "--check") {
    const stale = Object.keys(artifacts).filter((file) => {
      const target = path.join(committed, file);
      return !fs.existsSync(target) || fs.readFileSync(target, "utf8") !== artifacts[file];
    });
    if (stale.length) {
      process.stderr.write(`stale artifacts (run: npm run build): ${stale.join(", ")}\n`);
      process.exit(1);
    }
    process.stdout.write(`artifacts up to date: ${Object.keys(artifacts).join(", ")}\n`);
    return;
  }
  const out = argv[0] === "--out" ? path.resolve(argv[1]) : committed;
  fs.mkdirSync(out, {recursive: true});
  for (const [file, text] of Object.entries(artifacts)) fs.writeFileSync(path.join(out, file), text);
  process.stdout.write(`wrote ${Object.keys(artifacts).join(", ")} to ${out}\n`);
}

main(process.argv.slice(2));
