// linear and conv2d: fp32 through the kernels layer's OpenBLAS sgemm (kernels/gemm.h; conv as
// im2col + GEMM per image and group, the classic Caffe / PyTorch slow-path lowering), integer
// versions as plain loops with int32 wrap-around accumulation (what torch computes for int32
// matmul / out_dtype(..., int32)).
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "../type_inference.h"
#include "quantkit/core/error.h"
#include "quantkit/kernels/gemm.h"
#include "reference_ops.h"

namespace quantkit::graph::ref {
namespace {

struct ConvGeometry {
  std::int64_t n, c, h, w;      // input
  std::int64_t o, kh, kw;       // weight (o output channels)
  std::int64_t oh, ow;          // output spatial size
  std::int64_t groups, cg, og;  // channels per group
  std::int64_t patch;           // cg * kh * kw: one column of im2col
  std::int64_t pixels;          // oh * ow
};

ConvGeometry geometry(const Tensor& x, const Tensor& weight, const ConvParams& p) {
  ConvGeometry g{};
  g.n = x.size(0), g.c = x.size(1), g.h = x.size(2), g.w = x.size(3);
  g.o = weight.size(0), g.kh = weight.size(2), g.kw = weight.size(3);
  g.oh = infer::conv_output_size(g.h, g.kh, p.padding[0], p.stride[0], p.dilation[0]);
  g.ow = infer::conv_output_size(g.w, g.kw, p.padding[1], p.stride[1], p.dilation[1]);
  g.groups = p.groups;
  g.cg = g.c / g.groups;
  g.og = g.o / g.groups;
  g.patch = g.cg * g.kh * g.kw;
  g.pixels = g.oh * g.ow;
  return g;
}

// Unfolds `cg` channels of one image ([cg, h, w]) into rows [oh*ow, cg*kh*kw]: row p holds
// the receptive field of output pixel p, so conv = W[og, patch] · rowsᵀ is exactly the
// linear-layer GEMM (y = x · wᵀ) with the weight as x. Padding reads as zero.
template <class T>
void im2row(const T* x, const ConvGeometry& g, const ConvParams& p, T* rows) {
  for (std::int64_t oy = 0; oy < g.oh; ++oy) {
    for (std::int64_t ox = 0; ox < g.ow; ++ox) {
      T* row = rows + (oy * g.ow + ox) * g.patch;
      for (std::int64_t c = 0; c < g.cg; ++c) {
        for (std::int64_t ki = 0; ki < g.kh; ++ki) {
          const std::int64_t iy = oy * p.stride[0] - p.padding[0] + ki * p.dilation[0];
          T* out = row + (c * g.kh + ki) * g.kw;
          if (iy < 0 || iy >= g.h) {
            std::fill(out, out + g.kw, T{0});
            continue;
          }
          const T* in = x + (c * g.h + iy) * g.w;
          for (std::int64_t kj = 0; kj < g.kw; ++kj) {
            const std::int64_t ix = ox * p.stride[1] - p.padding[1] + kj * p.dilation[1];
            out[kj] = (ix >= 0 && ix < g.w) ? in[ix] : T{0};
          }
        }
      }
    }
  }
}

// Operands of the integer kernels, widened once to int32.
std::vector<std::int32_t> widen(const Tensor& t) {
  std::vector<std::int32_t> out(static_cast<std::size_t>(t.numel()));
  visit_dtype(t.dtype(), [&](auto zero) {
    using T = decltype(zero);
    if constexpr (std::is_integral_v<T> && sizeof(T) <= 4) {
      const T* p = t.data<T>();
      for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<std::int32_t>(p[i]);
    } else {
      throw Error("integer kernel: operand of dtype " + std::string(dtype_name(t.dtype())) +
                  ", expected int8, uint8, int16 or int32");
    }
  });
  return out;
}

// Sum of int32 products modulo 2^32 (uint64 arithmetic never overflows into UB; the final
// conversion to int32 is modular in C++20).
inline std::int32_t wrap_to_i32(std::uint64_t acc) {
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(acc));
}
inline std::uint64_t product(std::int32_t a, std::int32_t b) {
  return static_cast<std::uint64_t>(static_cast<std::int64_t>(a) * static_cast<std::int64_t>(b));
}

}  // namespace

Tensor linear_f32(const Tensor& x, const Tensor& weight, const Tensor* bias) {
  return quantkit::kernels::linear_f32(
      x, weight, bias != nullptr ? std::optional<Tensor>(*bias) : std::nullopt);
}

Tensor conv2d_f32(const Tensor& x, const Tensor& weight, const Tensor* bias, const ConvParams& p) {
  const ConvGeometry g = geometry(x, weight, p);
  Tensor out = Tensor::empty({g.n, g.o, g.oh, g.ow}, DType::Float32);
  float* y = out.data<float>();
  const float* xs = x.data<float>();
  const float* ws = weight.data<float>();
  std::vector<float> rows(static_cast<std::size_t>(g.pixels * g.patch));
  for (std::int64_t img = 0; img < g.n; ++img) {
    for (std::int64_t grp = 0; grp < g.groups; ++grp) {
      float* yg = y + (img * g.o + grp * g.og) * g.pixels;
      im2row(xs + (img * g.c + grp * g.cg) * g.h * g.w, g, p, rows.data());
      // y[og, pixels] = W[og, patch] · rows[pixels, patch]ᵀ
      quantkit::kernels::gemm_f32(g.og, g.pixels, g.patch, ws + grp * g.og * g.patch, rows.data(),
                                  nullptr, yg);
      if (bias == nullptr) continue;
      // Adding the bias after the GEMM rounds exactly like sgemm's beta = 1 update
      // (round(round(dot) + bias)).
      const float* b = bias->data<float>() + grp * g.og;
      for (std::int64_t oc = 0; oc < g.og; ++oc) {
        float* yrow = yg + oc * g.pixels;
        for (std::int64_t px = 0; px < g.pixels; ++px) yrow[px] += b[oc];
      }
    }
  }
  return out;
}

Tensor integer_linear(const Tensor& x, const Tensor& weight, const Tensor* bias) {
  const std::int64_t k = weight.size(1);
  const std::int64_t n = weight.size(0);
  Shape out_shape = x.shape();
  out_shape.back() = n;
  Tensor out = Tensor::empty(out_shape, DType::Int32);
  const std::int64_t rows = shape_numel(out_shape) / std::max<std::int64_t>(n, 1);
  const std::vector<std::int32_t> xs = widen(x);
  const std::vector<std::int32_t> ws = widen(weight);
  const std::int32_t* b = bias != nullptr ? bias->data<std::int32_t>() : nullptr;
  std::int32_t* y = out.data<std::int32_t>();
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t j = 0; j < n; ++j) {
      std::uint64_t acc = b != nullptr ? static_cast<std::uint64_t>(std::int64_t{b[j]}) : 0;
      for (std::int64_t i = 0; i < k; ++i) {
        acc += product(xs[static_cast<std::size_t>(r * k + i)],
                       ws[static_cast<std::size_t>(j * k + i)]);
      }
      y[r * n + j] = wrap_to_i32(acc);
    }
  }
  return out;
}

Tensor integer_linear_grouped(const Tensor& x, const Tensor& weight, std::int64_t group_size) {
  const std::int64_t k = weight.size(1), n = weight.size(0), groups = k / group_size;
  Shape out_shape = x.shape();
  out_shape.back() = n;
  out_shape.push_back(groups);
  Tensor out = Tensor::empty(out_shape, DType::Int32);
  const std::int64_t rows = x.numel() / std::max<std::int64_t>(k, 1);
  const std::vector<std::int32_t> xs = widen(x);
  const std::vector<std::int32_t> ws = widen(weight);
  std::int32_t* y = out.data<std::int32_t>();
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t j = 0; j < n; ++j) {
      for (std::int64_t g = 0; g < groups; ++g) {
        std::uint64_t acc = 0;
        for (std::int64_t i = g * group_size; i < (g + 1) * group_size; ++i) {
          acc += product(xs[static_cast<std::size_t>(r * k + i)],
                         ws[static_cast<std::size_t>(j * k + i)]);
        }
        y[(r * n + j) * groups + g] = wrap_to_i32(acc);
      }
    }
  }
  return out;
}

Tensor integer_conv2d(const Tensor& x, const Tensor& weight, const Tensor* bias,
                      const ConvParams& p) {
  const ConvGeometry g = geometry(x, weight, p);
  Tensor out = Tensor::empty({g.n, g.o, g.oh, g.ow}, DType::Int32);
  std::int32_t* y = out.data<std::int32_t>();
  const std::vector<std::int32_t> xs = widen(x);
  const std::vector<std::int32_t> ws = widen(weight);
  const std::int32_t* b = bias != nullptr ? bias->data<std::int32_t>() : nullptr;
  std::vector<std::int32_t> rows(static_cast<std::size_t>(g.pixels * g.patch));
  for (std::int64_t img = 0; img < g.n; ++img) {
    for (std::int64_t grp = 0; grp < g.groups; ++grp) {
      im2row(xs.data() + (img * g.c + grp * g.cg) * g.h * g.w, g, p, rows.data());
      for (std::int64_t oc = 0; oc < g.og; ++oc) {
        const std::int64_t channel = grp * g.og + oc;
        const std::int32_t* wrow = ws.data() + channel * g.patch;
        std::int32_t* yrow = y + (img * g.o + channel) * g.pixels;
        for (std::int64_t px = 0; px < g.pixels; ++px) {
          const std::int32_t* patch = rows.data() + px * g.patch;
          std::uint64_t acc =
              b != nullptr ? static_cast<std::uint64_t>(std::int64_t{b[channel]}) : 0;
          for (std::int64_t kk = 0; kk < g.patch; ++kk) acc += product(wrow[kk], patch[kk]);
          yrow[px] = wrap_to_i32(acc);
        }
      }
    }
  }
  return out;
}

}  // namespace quantkit::graph::ref
