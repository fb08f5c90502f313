#include "model_support.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>

#include "quantkit/core/error.h"
#include "quantkit/pipeline/batched_run.h"

namespace quantkit::cli {

ProgressBar::ProgressBar(std::string label, std::size_t total)
    : label_(std::move(label)), total_(total), tty_(isatty(STDERR_FILENO) != 0) {}

void ProgressBar::update(std::size_t done) {
  if (total_ == 0) return;
  const double fraction = static_cast<double>(done) / static_cast<double>(total_);
  if (tty_) {
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(fraction * kWidth);
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.resize(kWidth, '.');
    std::cerr << "\r" << label_ << " [" << bar << "] " << done << "/" << total_ << std::flush;
    return;
  }
  const int quarter = static_cast<int>(fraction * 4);
  if (quarter > last_quarter_) {
    last_quarter_ = quarter;
    std::cerr << label_ << ": " << done << "/" << total_ << "\n";
  }
}

void ProgressBar::finish() {
  if (tty_) std::cerr << "\n";
}

LatencyStats measure_latency(const LoadedModel& model, std::span<const Tensor> inputs,
                             std::size_t warmup, std::size_t iterations) {
  check_argument(iterations > 0, "bench", "--iterations", iterations, "at least 1");
  for (std::size_t i = 0; i < warmup; ++i) model.run(inputs);
  std::vector<double> ms;
  ms.reserve(iterations);
  for (std::size_t i = 0; i < iterations; ++i) {
    const auto start = std::chrono::steady_clock::now();
    model.run(inputs);
    const auto stop = std::chrono::steady_clock::now();
    ms.push_back(std::chrono::duration<double, std::milli>(stop - start).count());
  }
  std::vector<double> sorted = ms;
  std::sort(sorted.begin(), sorted.end());
  auto percentile = [&](double p) {
    const auto index = static_cast<std::size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
    return sorted[std::min(index, sorted.size() - 1)];
  };
  LatencyStats s;
  s.iterations = iterations;
  for (double v : ms) s.mean_ms += v;
  s.mean_ms /= static_cast<double>(ms.size());
  s.p50_ms = percentile(0.5);
  s.p90_ms = percentile(0.9);
  s.p99_ms = percentile(0.99);
  s.min_ms = sorted.front();
  return s;
}

std::uintmax_t file_size_bytes(const std::filesystem::path& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  return ec ? 0 : size;
}

std::size_t data_batch_size(const graph::Graph& model, std::size_t batch_size) {
  return pipeline::has_dynamic_batch(model) ? batch_size : 0;
}

}  // namespace quantkit::cli
