#!/usr/bin/env node
// Runs an ONNX model with ONNX Runtime (onnxruntime-node) on .npy inputs and writes its
// outputs as .npy files — the ORT side of quantkit's interop tests (tests/onnx/
// ort_interop_test.cpp), also handy by hand:
//
//   node tools/ort/run_ort.mjs [--ort DIR] [--optimization LEVEL] MODEL.onnx OUT_DIR X0.npy [X1.npy ...]
//
// Inputs bind to the model's inputs in order; output i is written to OUT_DIR/output_<i>.npy
// (names in the model may not be valid file names). DIR is the installed onnxruntime-node
// package (default: $QUANTKIT_ORT_DIR; scripts/install-ort prints it). LEVEL is ORT's
// graphOptimizationLevel: 'all' (default, what users get: QDQ fusion into integer
// kernels), 'basic', 'extended' or 'disabled' (each op as written). One intra-op thread, so
// results do not depend on the machine. .npy support: little-endian, C order, version 1-3,
// dtypes f4 f8 i1 u1 i2 i4 i8.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const DTYPES = {
  // npy descr → [ORT type, typed array]
  f4: ['float32', Float32Array],
  f8: ['float64', Float64Array],
  i1: ['int8', Int8Array],
  u1: ['uint8', Uint8Array],
  i2: ['int16', Int16Array],
  i4: ['int32', Int32Array],
  i8: ['int64', BigInt64Array],
};

function fail(message) {
  process.stderr.write(`run_ort: ${message}\n`);
  process.exit(2);
}

function readNpy(file) {
  const bytes = readFileSync(file);
  if (bytes.length < 10 || bytes.toString('latin1', 0, 6) !== '\x93NUMPY') fail(`${file}: not a .npy file`);
  const major = bytes[6];
  const headerLen = major === 1 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12) + headerLen;
  const header = bytes.toString('latin1', major === 1 ? 10 : 12, start);
  const descr = /'descr':\s*'([<|=])([a-z]\d)'/.exec(header);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!descr || !shape || /'fortran_order':\s*True/.test(header)) fail(`${file}: unsupported header ${header.trim()}`);
  const dtype = DTYPES[descr[2]];
  if (!dtype) fail(`${file}: unsupported dtype ${descr[2]}`);
  const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s.length > 0).map(Number);
  const count = dims.reduce((a, b) => a * b, 1);
  const [type, ArrayType] = dtype;
  if (bytes.length - start !== count * ArrayType.BYTES_PER_ELEMENT) fail(`${file}: size does not match shape [${dims}]`);
  // Copy into an aligned buffer (the data offset need not be a multiple of the element size).
  const data = new ArrayType(count);
  new Uint8Array(data.buffer).set(bytes.subarray(start));
  return { type, data, dims };
}

function npyBytes(tensor) {
  const entry = Object.entries(DTYPES).find(([, [type]]) => type === tensor.type);
  if (!entry) fail(`output of unsupported type ${tensor.type}`);
  const descr = entry[0] === 'i1' || entry[0] === 'u1' ? `|${entry[0]}` : `<${entry[0]}`;
  const dims = tensor.dims.length === 1 ? `${tensor.dims[0]},` : tensor.dims.join(', ');
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${dims}), }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';  // total a multiple of 64
  const prefix = Buffer.alloc(10);
  prefix.write('\x93NUMPY', 0, 'latin1');
  prefix[6] = 1;
  prefix[7] = 0;
  prefix.writeUInt16LE(header.length, 8);
  const data = tensor.data;
  return Buffer.concat([prefix, Buffer.from(header, 'latin1'),
    Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}

// Same folder + rename: a reader never sees a half-written file.
function writeAtomically(file, bytes) {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, file);
}

async function main() {
  const args = process.argv.slice(2);
  let ortDir = process.env.QUANTKIT_ORT_DIR;
  let optimization = 'all';
  while (args.length > 0 && args[0].startsWith('--')) {
    const flag = args.shift();
    if (flag === '--ort') ortDir = args.shift();
    else if (flag === '--optimization') optimization = args.shift();
    else fail(`unknown option ${flag}`);
  }
  if (args.length < 3) fail('usage: run_ort.mjs [--ort DIR] [--optimization LEVEL] MODEL.onnx OUT_DIR X0.npy [X1.npy ...]');
  if (!ortDir) fail('no onnxruntime-node package: pass --ort DIR or set QUANTKIT_ORT_DIR (scripts/install-ort)');
  if (!['all', 'basic', 'extended', 'disabled'].includes(optimization)) fail(`unknown optimization level ${optimization}`);
  const [modelPath, outDir, ...inputFiles] = args;

  const ort = createRequire(import.meta.url)(path.resolve(ortDir));
  const session = await ort.InferenceSession.create(modelPath, {
    graphOptimizationLevel: optimization,
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
  });
  if (inputFiles.length !== session.inputNames.length) {
    fail(`${modelPath} has ${session.inputNames.length} inputs (${session.inputNames.join(', ')}), got ${inputFiles.length} files`);
  }
  const feeds = {};
  session.inputNames.forEach((name, i) => {
    const { type, data, dims } = readNpy(inputFiles[i]);
    feeds[name] = new ort.Tensor(type, data, dims);
  });
  const results = await session.run(feeds);
  mkdirSync(outDir, { recursive: true });
  session.outputNames.forEach((name, i) => {
    writeAtomically(path.join(outDir, `output_${i}.npy`), npyBytes(results[name]));
  });
}

main().catch((error) => fail(error.stack ?? String(error)));
