// choose_qparams_tensor (quantized_decomposed.choose_qparams.tensor): the one dynamic
// per-tensor qparams function behind the graph's choose_qparams op and both
// dynamic_quantized_linear kernels — min/max of the whole tensor, then the observer formula.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "quantkit/core/error.h"
#include "quantkit/quant/choose_qparams.h"

namespace quantkit {
namespace {

TEST(ChooseQParamsTensor, MinAndMaxOfTheWholeTensorThenTheObserverFormula) {
  // The extremes sit in the middle and at the end: a min/max that looked at the first or
  // last element only would differ.
  const Tensor x =
      Tensor::from_vector(std::vector<float>{0.5f, -1.75f, 0.0f, 0.25f, 3.0f, 1.0f}, Shape{2, 3});
  const QuantRange range = QuantRange::of(DType::Int8, -128, 127);
  const DynamicQParams got = choose_qparams_tensor(x, range, kDefaultObserverEps);
  const float lo = -1.75f, hi = 3.0f;
  const QParams expected =
      calculate_qparams(std::span<const float>(&lo, 1), std::span<const float>(&hi, 1),
                        QScheme::PerTensorAffine, range, kDefaultObserverEps);
  EXPECT_EQ(got.scale, expected.scale[0]);
  EXPECT_EQ(got.zero_point, expected.zero_point[0]);
  // Written out: scale = float32(4.75 / 255), zero point = -128 - round(-1.75 / scale).
  const float scale = 4.75f / 255.0f;
  EXPECT_EQ(got.scale, static_cast<double>(scale));
  EXPECT_EQ(got.zero_point, -128 - static_cast<std::int64_t>(std::nearbyint(-1.75f / scale)));
}

TEST(ChooseQParamsTensor, ZeroIsAlwaysInTheRange) {
  const Tensor positive = Tensor::from_vector(std::vector<float>{2.0f, 4.0f});
  const DynamicQParams q =
      choose_qparams_tensor(positive, QuantRange::of(DType::Int8, -128, 127), kDefaultObserverEps);
  EXPECT_EQ(q.zero_point, -128);  // min widened to 0
  EXPECT_EQ(q.scale, static_cast<double>(4.0f / 255.0f));
}

TEST(ChooseQParamsTensor, RefusesEmptyAndNonFloat32InputsNamingTheCaller) {
  const QuantRange range = QuantRange::of(DType::Int8, -128, 127);
  try {
    choose_qparams_tensor(Tensor::empty({0}, DType::Float32), range, kDefaultObserverEps,
                          "my_kernel");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("my_kernel"), std::string::npos) << e.what();
  }
  EXPECT_THROW(choose_qparams_tensor(Tensor::from_vector(std::vector<double>{1.0}), range,
                                     kDefaultObserverEps),
               Error);
}

}  // namespace
}  // namespace quantkit
