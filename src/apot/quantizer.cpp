#include "quantkit/apot/quantizer.h"

#include <string>
#include <utility>

#include "quantkit/core/error.h"

namespace quantkit::apot {
namespace {

// float32 view of x: x itself, or a float32 copy of a float64 tensor (PyTorch rounds each
// element to float32 before comparing it with the float32 levels).
Tensor as_float32_input(const Tensor& x, const char* where) {
  if (x.dtype() == DType::Float32) return x;
  check_argument(x.dtype() == DType::Float64, where, "x.dtype", dtype_name(x.dtype()),
                 "float32 or float64");
  return x.to(DType::Float32);
}

void check_out(const Tensor& out, DType dtype, const Shape& shape, const char* where,
               const char* arg) {
  check_argument(out.dtype() == dtype, where, std::string(arg) + ".dtype", dtype_name(out.dtype()),
                 std::string(dtype_name(dtype)));
  check_argument(out.shape() == shape, where, std::string(arg) + ".shape",
                 shape_to_string(out.shape()), shape_to_string(shape));
}

}  // namespace

ApotQuantizer::ApotQuantizer(ApotQParams qparams) : qparams_(std::move(qparams)) {
  validate_apot_qparams(qparams_, "ApotQuantizer");
  const std::int64_t levels = num_levels();
  table_ = kernels::build_apot_search_table(qparams_.levels.data(), qparams_.level_indices.data(),
                                            levels, qparams_.alpha);
  level_of_code_.resize(static_cast<std::size_t>(levels));
  for (std::int64_t p = 0; p < levels; ++p) {
    level_of_code_[static_cast<std::size_t>(qparams_.level_indices[static_cast<std::size_t>(p)])] =
        qparams_.levels[static_cast<std::size_t>(p)];
  }
}

float ApotQuantizer::level_of_code(std::int32_t code) const {
  check_argument(code >= 0 && code < num_levels(), "ApotQuantizer::level_of_code", "code", code,
                 "a level index in [0, " + std::to_string(num_levels()) + ")");
  return level_of_code_[static_cast<std::size_t>(code)];
}

Tensor ApotQuantizer::quantize(const Tensor& x) const {
  Tensor codes = Tensor::empty(x.shape(), DType::Int32);
  quantize_into(x, codes);
  return codes;
}

void ApotQuantizer::quantize_into(const Tensor& x, Tensor& codes) const {
  constexpr const char* where = "ApotQuantizer::quantize_into";
  const Tensor xf = as_float32_input(x, where);
  check_out(codes, DType::Int32, x.shape(), where, "codes");
  kernels::apot_lookup(table_, xf.data<float>(), xf.numel(), table_.codes.data(),
                       codes.data<std::int32_t>());
}

void ApotQuantizer::dequantize_into(const Tensor& codes, Tensor& out) const {
  constexpr const char* where = "ApotQuantizer::dequantize_into";
  check_argument(codes.dtype() == DType::Int32, where, "codes.dtype", dtype_name(codes.dtype()),
                 "int32");
  check_argument(out.dtype() == DType::Float32 || out.dtype() == DType::Float64, where, "out.dtype",
                 dtype_name(out.dtype()), "float32 or float64");
  check_out(out, out.dtype(), codes.shape(), where, "out");
  const std::int32_t* c = codes.data<std::int32_t>();
  const std::int64_t bad = out.dtype() == DType::Float32
                               ? kernels::apot_dequantize_f32(level_of_code_.data(), num_levels(),
                                                              c, codes.numel(), out.data<float>())
                               : kernels::apot_dequantize_f64(level_of_code_.data(), num_levels(),
                                                              c, codes.numel(), out.data<double>());
  if (bad >= 0) {
    throw_invalid_argument(where, "codes[" + std::to_string(bad) + "]", c[bad],
                           "a level index in [0, " + std::to_string(num_levels()) + ")");
  }
}

Tensor ApotQuantizer::dequantize(const Tensor& codes) const {
  Tensor out = Tensor::empty(codes.shape(), DType::Float64);
  dequantize_into(codes, out);
  return out;
}

Tensor ApotQuantizer::dequantize_f32(const Tensor& codes) const {
  Tensor out = Tensor::empty(codes.shape(), DType::Float32);
  dequantize_into(codes, out);
  return out;
}

Tensor ApotQuantizer::quant_dequant(const Tensor& x) const {
  Tensor out = Tensor::empty(x.shape(), DType::Float32);
  quant_dequant_into(x, out);
  return out;
}

void ApotQuantizer::quant_dequant_into(const Tensor& x, Tensor& out) const {
  constexpr const char* where = "ApotQuantizer::quant_dequant_into";
  const Tensor xf = as_float32_input(x, where);
  check_out(out, DType::Float32, x.shape(), where, "out");
  // The level value's bits are the payload: one search, no second table lookup.
  kernels::apot_lookup(table_, xf.data<float>(), xf.numel(), table_.value_bits.data(),
                       reinterpret_cast<std::int32_t*>(out.data<float>()));
}

ApotTensor quantize_apot(const Tensor& x, const ApotQParams& qparams) {
  return quantize_apot(x, std::make_shared<const ApotQuantizer>(qparams));
}

ApotTensor quantize_apot(const Tensor& x, std::shared_ptr<const ApotQuantizer> quantizer) {
  check_argument(quantizer != nullptr, "quantize_apot", "quantizer", "null", "a quantizer");
  Tensor codes = quantizer->quantize(x);
  return ApotTensor{std::move(codes), std::move(quantizer)};
}

Tensor dequantize_apot(const ApotTensor& t) {
  check_argument(t.quantizer != nullptr, "dequantize_apot", "t.quantizer", "null", "a quantizer");
  return t.quantizer->dequantize(t.codes);
}

Tensor dequantize_apot_f32(const ApotTensor& t) {
  check_argument(t.quantizer != nullptr, "dequantize_apot_f32", "t.quantizer", "null",
                 "a quantizer");
  return t.quantizer->dequantize_f32(t.codes);
}

Tensor quant_dequant_apot(const Tensor& x, const ApotQParams& qparams) {
  return ApotQuantizer(qparams).quant_dequant(x);
}

}  // namespace quantkit::apot
