#pragma once
// Model input samples for calibration, evaluation, `quantkit run` and `compare`, from:
//   * an IDX file (optionally gzipped) of N images: uint8 pixel values become float32
//     values unchanged (0 … 255; models/fashion_mnist takes raw pixels and scales inside);
//   * a .npy file holding N samples stacked on a leading dim, or exactly one batch;
//   * a directory of .npy files (sorted by name), each one batch or one sample.
// Samples are reshaped to the model input's type: an input [B, ...] takes B consecutive
// samples per batch (a final partial batch is dropped and counted in `dropped`).
#include <cstddef>
#include <filesystem>
#include <vector>

#include "quantkit/core/tensor.h"

namespace quantkit::data {

struct Batches {
  std::vector<Tensor> batches;  // each of the input type
  std::size_t samples = 0;      // samples used
  std::size_t dropped = 0;      // samples left over after the last full batch
};

// limit: the most samples to read (0 = all). Error naming the path when the data cannot be
// shaped into the input type (dtype float32 expected for .npy, element counts must fit).
// batch_size: 0 = the input's dim 0 (above); otherwise batches of batch_size samples (the
// input's dim 0 replaced: for a model with a dynamic batch), the last one holding the rest,
// so nothing is dropped.
Batches load_batches(const std::filesystem::path& path, const TensorType& input,
                     std::size_t limit = 0, std::size_t batch_size = 0);

// Labels from an IDX file of N integers (uint8 / int8 / int16 / int32) → int64 vector.
std::vector<std::int64_t> load_labels(const std::filesystem::path& path, std::size_t limit = 0);

}  // namespace quantkit::data
