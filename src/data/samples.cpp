// Calibration / evaluation samples from IDX or .npy (see samples.h).
#include "quantkit/data/samples.h"

#include <algorithm>
#include <cstring>

#include "quantkit/core/error.h"
#include "quantkit/core/npy.h"
#include "quantkit/data/idx.h"

namespace quantkit::data {
namespace {

bool is_idx_name(const std::filesystem::path& path) {
  const std::string name = path.filename().string();
  return name.find("idx") != std::string::npos || name.ends_with(".gz");
}

// All samples of one file as float32 [N, per_sample]. A tensor holding exactly one batch
// (its shape equals the input's) is N = batch samples.
Tensor as_samples(const Tensor& t, const TensorType& input, const std::string& origin) {
  const std::int64_t per_sample = input.numel() / std::max<std::int64_t>(input.shape.at(0), 1);
  Tensor f;
  if (t.dtype() == DType::UInt8) {
    f = Tensor::empty(t.shape(), DType::Float32);
    const auto* src = t.data<std::uint8_t>();
    float* dst = f.data<float>();
    for (std::int64_t i = 0; i < t.numel(); ++i) dst[i] = static_cast<float>(src[i]);
  } else if (t.dtype() == DType::Float32) {
    f = t;
  } else {
    throw_invalid_argument("load_batches", "data", origin + " (" + std::string(dtype_name(t.dtype())) + ")",
                           "float32 samples or uint8 images");
  }
  // Either exactly one batch of the input's shape, or N samples stacked on dim 0 whose
  // remaining dims hold one sample each.
  const bool one_batch = t.shape() == input.shape;
  const bool stacked = !t.shape().empty() &&
                       shape_numel(Shape(t.shape().begin() + 1, t.shape().end())) == per_sample;
  check_argument(per_sample > 0 && (one_batch || stacked), "load_batches", "data",
                 origin + " " + shape_to_string(t.shape()),
                 "the model input's shape " + shape_to_string(input.shape) +
                     " or N samples of " + std::to_string(per_sample) + " elements on dim 0");
  return f.reshape(Shape{t.numel() / per_sample, per_sample});
}

}  // namespace

Batches load_batches(const std::filesystem::path& path, const TensorType& input, std::size_t limit,
                     std::size_t batch_size) {
  check_argument(!input.shape.empty() && input.dtype == DType::Float32, "load_batches", "input",
                 input.to_string(), "a float32 model input with a leading batch dim");
  std::vector<std::filesystem::path> files;
  if (std::filesystem::is_directory(path)) {
    for (const auto& entry : std::filesystem::directory_iterator(path)) {
      if (entry.path().extension() == ".npy") files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    check_argument(!files.empty(), "load_batches", "path", path.string(),
                   "a directory holding .npy files");
  } else {
    check_argument(std::filesystem::exists(path), "load_batches", "path", path.string(),
                   "an existing IDX file, .npy file or directory of .npy files");
    files.push_back(path);
  }
  std::vector<float> pool;
  const std::int64_t per_sample = input.numel() / std::max<std::int64_t>(input.shape[0], 1);
  std::size_t samples = 0;
  for (const auto& file : files) {
    if (limit != 0 && samples >= limit) break;
    const Tensor raw = file.extension() == ".npy" && !is_idx_name(file) ? read_npy(file) : read_idx(file);
    const Tensor s = as_samples(raw, input, file.string());
    std::size_t take = static_cast<std::size_t>(s.shape()[0]);
    if (limit != 0) take = std::min(take, limit - samples);
    const float* p = s.data<float>();
    pool.insert(pool.end(), p, p + static_cast<std::int64_t>(take) * per_sample);
    samples += take;
  }
  Batches out;
  const auto batch = batch_size != 0
                         ? batch_size
                         : static_cast<std::size_t>(std::max<std::int64_t>(input.shape[0], 1));
  // With an explicit batch size the last batch takes the rest; otherwise it must be full.
  const std::size_t count = batch_size != 0 ? (samples + batch - 1) / batch : samples / batch;
  for (std::size_t b = 0; b < count; ++b) {
    Shape shape = input.shape;
    shape[0] = static_cast<std::int64_t>(std::min(batch, samples - b * batch));
    Tensor t = Tensor::empty(shape, DType::Float32);
    std::memcpy(t.data<float>(), pool.data() + b * batch * static_cast<std::size_t>(per_sample),
                t.nbytes());
    out.batches.push_back(std::move(t));
  }
  out.samples = std::min(count * batch, samples);
  out.dropped = samples - out.samples;
  return out;
}

std::vector<std::int64_t> load_labels(const std::filesystem::path& path, std::size_t limit) {
  const Tensor t = read_idx(path);
  check_argument(t.shape().size() == 1 && is_integer(t.dtype()), "load_labels", "path",
                 path.string() + " " + shape_to_string(t.shape()),
                 "an IDX file of N integer labels");
  std::vector<std::int64_t> labels;
  visit_dtype(t.dtype(), [&](auto zero) {
    const auto* p = t.data<decltype(zero)>();
    for (std::int64_t i = 0; i < t.numel(); ++i) labels.push_back(static_cast<std::int64_t>(p[i]));
  });
  if (limit != 0 && labels.size() > limit) labels.resize(limit);
  return labels;
}

}  // namespace quantkit::data
