// observers_histogram_modern.json: the modern HistogramObserver (torchao) run on torch 1.13
// ops. Every case bit for bit: the histogram, min and max after each batch, the L2 search
// (every _compute_quantization_error call, the final bins, search_min/max), the fixed
// quantization-error probes, scale and zero point. Norms are compared bit-exactly because
// the library reproduces torch.sum's summation order; they are also checked against the
// exactly rounded sums within the README's 1e-6 relative tolerance.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "quantkit/quant/observer.h"
#include "quantkit/quant/observers.h"
#include "support/golden.h"

namespace quantkit {
namespace {

using nlohmann::json;
using testing::bits_of;
using testing::case_label;
using testing::double_from_bits;
using testing::float_from_bits;
using testing::floats_bitwise_equal;
using testing::floats_from_bits;

const json& golden() {
  static const json data = testing::load_json("uniform/observers_histogram_modern.json");
  return data;
}

ObserverOptions options_of(const json& c) {
  const json& ctor = c["ctor"];
  ObserverOptions o;
  const std::string dtype = ctor.value("dtype", std::string("quint8"));
  o.dtype = dtype == "qint8" ? DType::Int8 : DType::UInt8;
  if (ctor.contains("qscheme")) o.qscheme = qscheme_from_name(ctor["qscheme"].get<std::string>());
  o.reduce_range = ctor.value("reduce_range", false);
  if (ctor.contains("quant_min")) o.quant_min = ctor["quant_min"].get<std::int64_t>();
  if (ctor.contains("quant_max")) o.quant_max = ctor["quant_max"].get<std::int64_t>();
  if (ctor.contains("eps_bits")) o.eps = float_from_bits(ctor["eps_bits"].get<std::string>());
  if (ctor.contains("bins")) o.bins = ctor["bins"].get<std::int64_t>();
  return o;
}

std::vector<float> dense_histogram(const json& sparse) {
  std::vector<float> h(sparse["bins"].get<std::size_t>(), 0.0f);
  const auto index = sparse["nonzero_index"].get<std::vector<std::size_t>>();
  const auto values = floats_from_bits(sparse["nonzero_value_bits"]);
  for (std::size_t i = 0; i < index.size(); ++i) h.at(index[i]) = values[i];
  return h;
}

float bits(const json& node) { return float_from_bits(node.get<std::string>()); }

// norm: torch's float32 sum, returned by torch as a Python float.
void expect_norm(const json& entry, double norm) {
  EXPECT_EQ(bits_of(static_cast<float>(norm)), bits_of(bits(entry["norm_bits"])))
      << "norm " << norm << " vs torch " << bits(entry["norm_bits"]);
  EXPECT_EQ(norm, static_cast<double>(static_cast<float>(norm))) << "a float32 sum";
  const double exact = double_from_bits(entry["norm_exact_sum_f64_bits"].get<std::string>());
  EXPECT_LE(std::abs(norm - exact), 1e-6 * std::abs(exact)) << "vs the exact sum " << exact;
}

TEST(HistogramObserverGolden, EveryCaseBitExact) {
  int cases = 0;
  for (const json& c : golden()["cases"]) {
    ++cases;
    SCOPED_TRACE(case_label(c));
    ASSERT_EQ(c["upsample_rate"].get<std::int64_t>(), HistogramObserver::kUpsampleRate);
    ASSERT_EQ(c["dst_nbins"].get<std::int64_t>(), HistogramObserver::kDstBins);
    HistogramObserver obs(options_of(c));
    EXPECT_EQ(obs.quant_range().quant_min, c["effective_quant_min"].get<std::int64_t>());
    EXPECT_EQ(obs.quant_range().quant_max, c["effective_quant_max"].get<std::int64_t>());
    EXPECT_EQ(bits_of(obs.options().eps), bits_of(bits(c["eps_bits"])));

    const json& batches = c["batches"];
    const json& after = c["after_each_batch"];
    ASSERT_EQ(batches.size(), after.size());
    for (std::size_t b = 0; b < batches.size(); ++b) {
      SCOPED_TRACE("after batch " + std::to_string(b) + " (" + after[b]["path"].get<std::string>() +
                   ")");
      const Tensor x = Tensor::from_vector(floats_from_bits(batches[b]["x_bits"]),
                                           testing::shape_of(batches[b]["shape"]));
      const Tensor before = x.clone();
      obs.observe(x);
      EXPECT_TRUE(bitwise_equal(x, before));
      EXPECT_EQ(bits_of(obs.state().min_val), bits_of(bits(after[b]["min_val_bits"])));
      EXPECT_EQ(bits_of(obs.state().max_val), bits_of(bits(after[b]["max_val_bits"])));
      EXPECT_TRUE(
          floats_bitwise_equal(dense_histogram(after[b]["histogram"]), obs.state().histogram));
    }
    EXPECT_EQ(bits_of(obs.state().min_val), bits_of(bits(c["min_val_bits"])));
    EXPECT_EQ(bits_of(obs.state().max_val), bits_of(bits(c["max_val_bits"])));
    EXPECT_TRUE(floats_bitwise_equal(dense_histogram(c["histogram"]), obs.state().histogram));

    const HistogramSearch s = obs.search();
    EXPECT_EQ(s.start_bin, c["search_start_bin"].get<std::int64_t>());
    EXPECT_EQ(s.end_bin, c["search_end_bin"].get<std::int64_t>());
    EXPECT_EQ(bits_of(s.search_min), bits_of(bits(c["search_min_bits"])));
    EXPECT_EQ(bits_of(s.search_max), bits_of(bits(c["search_max_bits"])));
    const json& trace = c["search_trace"];
    ASSERT_EQ(s.trace.size(), trace.size());
    for (std::size_t i = 0; i < trace.size(); ++i) {
      SCOPED_TRACE("search step " + std::to_string(i));
      EXPECT_EQ(s.trace[i].start_bin, trace[i]["start_bin"].get<std::int64_t>());
      EXPECT_EQ(s.trace[i].end_bin, trace[i]["end_bin"].get<std::int64_t>());
      expect_norm(trace[i], s.trace[i].norm);
    }
    // The stop reason follows from the trace: the last step was rejected, or none was.
    const bool rejected_last =
        s.trace.size() >= 2 && s.trace.back().norm > s.trace[s.trace.size() - 2].norm;
    EXPECT_EQ(rejected_last ? "norm_increased" : "alpha_reached_beta",
              c["search_stop"].get<std::string>());

    for (const json& probe : c["quantization_error_probes"]) {
      SCOPED_TRACE("probe " + probe["start_bin"].dump() + ".." + probe["end_bin"].dump());
      expect_norm(probe, obs.quantization_error(probe["start_bin"].get<std::int64_t>(),
                                                probe["end_bin"].get<std::int64_t>()));
    }

    const QParams qp = obs.calculate_qparams();
    ASSERT_EQ(qp.scale.size(), 1u);
    EXPECT_EQ(bits_of(static_cast<float>(qp.scale[0])), bits_of(bits(c["scale_bits"][0])));
    EXPECT_EQ(qp.zero_point, c["zero_point"].get<std::vector<std::int64_t>>());
  }
  EXPECT_EQ(cases, 45);
}

// The public quantization_error, called at every (start_bin, end_bin) of torch's recorded
// search, gives torch's norms: the golden trace is replayed, not the observer's own search.
TEST(HistogramObserverGolden, SearchTraceMatchesQuantizationError) {
  std::size_t steps = 0;
  for (const json& c : golden()["cases"]) {
    SCOPED_TRACE(case_label(c));
    HistogramObserver obs(options_of(c));
    for (const json& batch : c["batches"]) {
      obs.observe(Tensor::from_vector(floats_from_bits(batch["x_bits"]),
                                      testing::shape_of(batch["shape"])));
    }
    for (const json& step : c["search_trace"]) {
      const std::int64_t start = step["start_bin"].get<std::int64_t>();
      const std::int64_t end = step["end_bin"].get<std::int64_t>();
      SCOPED_TRACE("step " + std::to_string(start) + ".." + std::to_string(end));
      expect_norm(step, obs.quantization_error(start, end));
      ++steps;
    }
  }
  EXPECT_EQ(steps, 95u);  // every recorded step of the 45 cases
}

}  // namespace
}  // namespace quantkit
