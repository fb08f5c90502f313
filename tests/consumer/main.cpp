// Links against an installed quantkit and runs the README's C++ examples: one quantization
// round trip, and post-training quantization of a small CNN through the PT2E flow.
#include <cmath>
#include <cstdio>
#include <vector>

#include "quantkit/graph/export.h"
#include "quantkit/graph/interpreter.h"
#include "quantkit/graph/nn.h"
#include "quantkit/pt2e/convert.h"
#include "quantkit/pt2e/lowering.h"
#include "quantkit/pt2e/prepare.h"
#include "quantkit/pt2e/xnnpack_quantizer.h"
#include "quantkit/quant/affine.h"
#include "quantkit/runtime/runtime.h"

namespace {

quantkit::Tensor random_input(unsigned seed) {
  quantkit::Tensor x = quantkit::Tensor::empty({1, 1, 16, 16}, quantkit::DType::Float32);
  unsigned state = seed;
  for (float& v : x.span<float>()) {
    state = state * 1664525u + 1013904223u;
    v = static_cast<float>(state >> 8) / 16777216.0f;
  }
  return x;
}

}  // namespace

int main() {
  using namespace quantkit;
  {
    const Tensor x = Tensor::from_vector<float>({-1.0f, 0.0f, 0.5f, 1.0f});
    const Tensor q = quantize_per_tensor(x, 1.0 / 127.0, 0, QuantRange::full(DType::Int8));
    const Tensor y = dequantize_per_tensor(q, 1.0 / 127.0, 0);
    const float err = y.data<float>()[2] - 0.5f;
    if (q.data<std::int8_t>()[3] != 127 || err > 0.004f || err < -0.004f) {
      std::puts("quantkit consumer: unexpected round trip");
      return 1;
    }
  }
  // ---- README: PTQ in a dozen lines ----
  graph::Sequential net;  // a torch.nn-like model
  net.emplace<graph::Conv2d>(1, 8, 3);
  net.emplace<graph::ReLU>();
  net.emplace<graph::Flatten>();
  net.emplace<graph::Linear>(8 * 14 * 14, 10);
  net.reset_parameters(7);
  graph::Graph fp32 = graph::export_model(net, {random_input(0)});   // capture
  pt2e::XNNPACKQuantizer quantizer;
  quantizer.set_global(pt2e::get_symmetric_quantization_config(/*is_per_channel=*/true));
  pt2e::PreparedModel prepared = pt2e::prepare_pt2e(fp32, quantizer);  // observers
  for (unsigned i = 0; i < 32; ++i) prepared({random_input(i)});     // calibrate
  graph::Graph qdq = pt2e::convert_pt2e(prepared);                    // Q/DQ form
  graph::Graph fast = pt2e::lower_to_fused_kernels(qdq);              // int8 kernels
  runtime::Runtime int8(fast);
  // ---- end of the README example ----
  const Tensor x = random_input(100);
  const Tensor ref = graph::run_graph(fp32, {x})[0];
  const std::vector<Tensor> in{x};
  const Tensor got = int8.run(in)[0];
  double signal = 0, noise = 0;
  for (std::int64_t i = 0; i < ref.numel(); ++i) {
    const double r = ref.data<float>()[i], e = r - got.data<float>()[i];
    signal += r * r;
    noise += e * e;
  }
  const double sqnr = 10 * std::log10(signal / noise);
  if (!(sqnr > 25)) {
    std::printf("quantkit consumer: int8 CNN SQNR %.1f dB, expected > 25\n", sqnr);
    return 1;
  }
  std::printf("quantkit consumer: ok (int8 CNN SQNR %.1f dB)\n", sqnr);
  return 0;
}
