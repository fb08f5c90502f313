#!/usr/bin/env node
// Times an ONNX model in ONNX Runtime (onnxruntime-node, CPU EP) the way `quantkit bench`
// times it, for bench/compare_ort.sh:
//
//   node tools/ort/bench_ort.mjs [--ort DIR] [--threads N] [--iterations N] [--warmup N]
//                                [--optimization LEVEL] MODEL.onnx
//
// Inputs: float32 tensors of the model's input shapes (symbolic dims = 1) filled with
// (i % 97) / 97 — the same values quantkit bench feeds. Prints one JSON line:
// {"model", "threads", "iterations", "mean_ms", "p50_ms", "min_ms"}. Times session.run only
// (one intra-op pool of N threads, sequential execution, graph optimizations 'all' unless
// told otherwise: what users get).
import { createRequire } from 'node:module';
import path from 'node:path';

function fail(message) {
  process.stderr.write(`bench_ort: ${message}\n`);
  process.exit(2);
}

function positive(flag, text, min) {
  const v = Number(text);
  if (!Number.isInteger(v) || v < min) fail(`${flag} must be an integer >= ${min}, got '${text}'`);
  return v;
}

async function main() {
  const args = process.argv.slice(2);
  let ortDir = process.env.QUANTKIT_ORT_DIR;
  let threads = 1, iterations = 200, warmup = 20, optimization = 'all';
  while (args.length > 0 && args[0].startsWith('--')) {
    const flag = args.shift();
    const value = args.shift();
    if (value === undefined) fail(`${flag} needs a value`);
    if (flag === '--ort') ortDir = value;
    else if (flag === '--threads') threads = positive(flag, value, 1);
    else if (flag === '--iterations') iterations = positive(flag, value, 1);
    else if (flag === '--warmup') warmup = positive(flag, value, 0);
    else if (flag === '--optimization') optimization = value;
    else fail(`unknown option ${flag}`);
  }
  if (args.length !== 1) fail('usage: bench_ort.mjs [--ort DIR] [--threads N] [--iterations N] [--warmup N] [--optimization LEVEL] MODEL.onnx');
  if (!ortDir) fail('no onnxruntime-node package: pass --ort DIR or set QUANTKIT_ORT_DIR (scripts/install-ort)');
  const modelPath = args[0];
  const ort = createRequire(import.meta.url)(path.resolve(ortDir));
  const session = await ort.InferenceSession.create(modelPath, {
    graphOptimizationLevel: optimization,
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
  });
  const feeds = {};
  for (const name of session.inputNames) {
    const meta = session.inputMetadata?.find?.((m) => m.name === name);
    const dims = (meta?.shape ?? []).map((d) => (typeof d === 'number' && d > 0 ? d : 1));
    if (dims.length === 0) fail(`cannot read the shape of input '${name}' (onnxruntime-node too old?)`);
    const count = dims.reduce((a, b) => a * b, 1);
    const data = new Float32Array(count);
    for (let i = 0; i < count; ++i) data[i] = (i % 97) / 97;
    feeds[name] = new ort.Tensor('float32', data, dims);
  }
  for (let i = 0; i < warmup; ++i) await session.run(feeds);
  const times = [];
  for (let i = 0; i < iterations; ++i) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  const mean = times.reduce((a, b) => a + b, 0) / times.length;
  console.log(JSON.stringify({
    model: modelPath, threads, iterations,
    mean_ms: mean, p50_ms: times[Math.floor(times.length / 2)], min_ms: times[0],
  }));
}

main().catch((error) => fail(error.stack ?? String(error)));
