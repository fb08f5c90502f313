// Links against an installed quantkit and checks one quantization round trip.
#include <cstdio>

#include "quantkit/quant/affine.h"

int main() {
  using namespace quantkit;
  const Tensor x = Tensor::from_vector<float>({-1.0f, 0.0f, 0.5f, 1.0f});
  const Tensor q = quantize_per_tensor(x, 1.0 / 127.0, 0, QuantRange::full(DType::Int8));
  const Tensor y = dequantize_per_tensor(q, 1.0 / 127.0, 0);
  const float err = y.data<float>()[2] - 0.5f;
  if (q.data<std::int8_t>()[3] != 127 || err > 0.004f || err < -0.004f) {
    std::puts("quantkit consumer: unexpected result");
    return 1;
  }
  std::puts("quantkit consumer: ok");
  return 0;
}
