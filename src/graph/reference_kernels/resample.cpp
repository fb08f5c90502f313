// Reference kernels of the resampling ops: conv_transpose2d (ONNX ConvTranspose) and resize
// (ONNX Resize, nearest and bilinear over the last two dims), with their entry points.
//
// resize reproduces ONNX Runtime's CPU kernel arithmetic: source coordinates in float32
// from the coordinate transformation mode, nearest rounding on that float, and bilinear
// weights |x - x1| / |x - x2| in float32 with the source coordinate clamped into the input
// (so the borders repeat the edge pixel, as ORT and torch do).
#include <algorithm>
#include <cmath>
#include <string>
#include <type_traits>
#include <vector>

#include "entry_points.h"
#include "quantkit/core/error.h"
#include "reference_ops.h"

namespace quantkit::graph {
namespace ref {

Tensor conv_transpose2d_f32(const Tensor& x, const Tensor& weight, const Tensor* bias,
                            const ConvTransposeParams& p) {
  const Shape& xs = x.shape();
  const Shape& ws = weight.shape();
  const std::int64_t n_batch = xs[0], in_c = xs[1], in_h = xs[2], in_w = xs[3];
  const std::int64_t out_per_group = ws[1], kh = ws[2], kw = ws[3];
  const std::int64_t in_per_group = in_c / p.groups;
  const std::int64_t out_c = out_per_group * p.groups;
  std::int64_t out_size[2];
  for (std::size_t d = 0; d < 2; ++d) {
    const std::int64_t in = xs[2 + d], k = ws[2 + d];
    out_size[d] = p.stride[d] * (in - 1) + p.output_padding[d] + p.dilation[d] * (k - 1) + 1 -
                  p.pads[d] - p.pads[d + 2];
  }
  const std::int64_t out_h = out_size[0], out_w = out_size[1];
  Tensor out = Tensor::empty({n_batch, out_c, out_h, out_w}, DType::Float32);
  const float* xd = x.data<float>();
  const float* wd = weight.data<float>();
  float* od = out.data<float>();
  // Gather form: output position o (in the uncropped output, o + pad) takes x[i] · w[k]
  // wherever i · stride + k · dilation == o + pad.
  for (std::int64_t n = 0; n < n_batch; ++n) {
    for (std::int64_t oc = 0; oc < out_c; ++oc) {
      const std::int64_t g = oc / out_per_group, o = oc % out_per_group;
      for (std::int64_t oy = 0; oy < out_h; ++oy) {
        for (std::int64_t ox = 0; ox < out_w; ++ox) {
          double sum = bias ? static_cast<double>(bias->data<float>()[oc]) : 0.0;
          for (std::int64_t ky = 0; ky < kh; ++ky) {
            const std::int64_t ty = oy + p.pads[0] - ky * p.dilation[0];
            if (ty < 0 || ty % p.stride[0] != 0 || ty / p.stride[0] >= in_h) continue;
            const std::int64_t iy = ty / p.stride[0];
            for (std::int64_t kx = 0; kx < kw; ++kx) {
              const std::int64_t tx = ox + p.pads[1] - kx * p.dilation[1];
              if (tx < 0 || tx % p.stride[1] != 0 || tx / p.stride[1] >= in_w) continue;
              const std::int64_t ix = tx / p.stride[1];
              for (std::int64_t c = 0; c < in_per_group; ++c) {
                const std::int64_t ic = g * in_per_group + c;
                sum += static_cast<double>(xd[((n * in_c + ic) * in_h + iy) * in_w + ix]) *
                       static_cast<double>(wd[((ic * out_per_group + o) * kh + ky) * kw + kx]);
              }
            }
          }
          od[((n * out_c + oc) * out_h + oy) * out_w + ox] = static_cast<float>(sum);
        }
      }
    }
  }
  return out;
}

namespace {

// ONNX Runtime's get_original_coordinate, in float32.
float source_coordinate(CoordinateTransform t, std::int64_t out_index, float scale,
                        std::int64_t out_length, std::int64_t in_length) {
  const auto x = static_cast<float>(out_index);
  switch (t) {
    case CoordinateTransform::HalfPixel:
      return ((x + 0.5f) / scale) - 0.5f;
    case CoordinateTransform::PytorchHalfPixel:
      return out_length > 1 ? (x + 0.5f) / scale - 0.5f : 0.0f;
    case CoordinateTransform::AlignCorners:
      return out_length == 1 ? 0.0f
                             : x * static_cast<float>(in_length - 1) /
                                   static_cast<float>(out_length - 1);
    case CoordinateTransform::Asymmetric:
      return x / scale;
  }
  return x;
}

std::int64_t nearest_index(NearestRounding r, float x, std::int64_t in_length) {
  // The source coordinate lies within a few lengths of [0, in_length): clamping first keeps
  // the float -> int conversion defined whatever the scale.
  const float limit = static_cast<float>(in_length) + 1.0f;
  x = std::fmax(-limit, std::fmin(x, limit));
  float picked = 0.0f;
  switch (r) {
    case NearestRounding::RoundPreferFloor:
      // A tie (x = k + 0.5) goes down; std::round sends ties away from zero otherwise.
      picked = x == std::floor(x) + 0.5f ? std::floor(x) : std::round(x);
      break;
    case NearestRounding::RoundPreferCeil:
      picked = x == std::floor(x) + 0.5f ? std::ceil(x) : std::round(x);
      break;
    case NearestRounding::Floor:
      picked = std::floor(x);
      break;
    case NearestRounding::Ceil:
      picked = std::ceil(x);
      break;
  }
  const auto i = static_cast<std::int64_t>(picked);
  return i < 0 ? 0 : (i >= in_length ? in_length - 1 : i);
}

// One axis of a bilinear resize: the two source indices and their weights per output index.
struct LinearTap {
  std::int64_t i1 = 0, i2 = 0;
  float w1 = 0.0f, w2 = 0.0f;  // weight of i1 and of i2
};

std::vector<LinearTap> linear_taps(const ResizeParams& p, std::size_t axis, std::int64_t in_length) {
  std::vector<LinearTap> taps(static_cast<std::size_t>(p.output_size[axis]));
  for (std::int64_t o = 0; o < p.output_size[axis]; ++o) {
    float x = source_coordinate(p.transform, o, p.scales[axis], p.output_size[axis], in_length);
    x = std::fmax(0.0f, std::fmin(x, static_cast<float>(in_length - 1)));
    LinearTap& t = taps[static_cast<std::size_t>(o)];
    t.i1 = std::min(static_cast<std::int64_t>(x), in_length - 1);
    t.i2 = std::min(t.i1 + 1, in_length - 1);
    // ORT: dx1 = |x - x1| weighs x2 and dx2 = |x - x2| weighs x1; equal indices get 0.5 each.
    const float d1 = std::fabs(x - static_cast<float>(t.i1));
    const float d2 = std::fabs(x - static_cast<float>(t.i2));
    t.w1 = t.i1 == t.i2 ? 0.5f : d2;
    t.w2 = t.i1 == t.i2 ? 0.5f : d1;
  }
  return taps;
}

}  // namespace

Tensor resize(const Tensor& x, const ResizeParams& p) {
  const Shape& in = x.shape();
  const std::size_t r = in.size();
  const std::int64_t in_h = in[r - 2], in_w = in[r - 1];
  const std::int64_t out_h = p.output_size[0], out_w = p.output_size[1];
  Shape out_shape = in;
  out_shape[r - 2] = out_h;
  out_shape[r - 1] = out_w;
  Tensor out = Tensor::empty(out_shape, x.dtype());
  const std::int64_t planes = shape_numel(Shape(in.begin(), in.end() - 2));
  if (p.mode == ResizeMode::Nearest) {
    std::vector<std::int64_t> rows(static_cast<std::size_t>(out_h)), cols(static_cast<std::size_t>(out_w));
    for (std::int64_t o = 0; o < out_h; ++o) {
      rows[static_cast<std::size_t>(o)] = nearest_index(
          p.rounding, source_coordinate(p.transform, o, p.scales[0], out_h, in_h), in_h);
    }
    for (std::int64_t o = 0; o < out_w; ++o) {
      cols[static_cast<std::size_t>(o)] = nearest_index(
          p.rounding, source_coordinate(p.transform, o, p.scales[1], out_w, in_w), in_w);
    }
    visit_dtype(x.dtype(), [&](auto zero) {
      using T = decltype(zero);
      const T* src = x.data<T>();
      T* dst = out.data<T>();
      for (std::int64_t plane = 0; plane < planes; ++plane) {
        for (std::int64_t oy = 0; oy < out_h; ++oy) {
          const T* row = src + (plane * in_h + rows[static_cast<std::size_t>(oy)]) * in_w;
          T* out_row = dst + (plane * out_h + oy) * out_w;
          for (std::int64_t ox = 0; ox < out_w; ++ox) out_row[ox] = row[cols[static_cast<std::size_t>(ox)]];
        }
      }
    });
    return out;
  }
  const std::vector<LinearTap> ty = linear_taps(p, 0, in_h), tx = linear_taps(p, 1, in_w);
  visit_dtype(x.dtype(), [&](auto zero) {
    using T = decltype(zero);
    if constexpr (std::is_floating_point_v<T>) {
      const T* src = x.data<T>();
      T* dst = out.data<T>();
      for (std::int64_t plane = 0; plane < planes; ++plane) {
        const T* image = src + plane * in_h * in_w;
        for (std::int64_t oy = 0; oy < out_h; ++oy) {
          const LinearTap& a = ty[static_cast<std::size_t>(oy)];
          for (std::int64_t ox = 0; ox < out_w; ++ox) {
            const LinearTap& b = tx[static_cast<std::size_t>(ox)];
            // ORT's order: X11·dx2·dy2 + X21·dx1·dy2 + X12·dx2·dy1 + X22·dx1·dy1.
            const T v = static_cast<T>(b.w1 * a.w1) * image[a.i1 * in_w + b.i1] +
                        static_cast<T>(b.w2 * a.w1) * image[a.i1 * in_w + b.i2] +
                        static_cast<T>(b.w1 * a.w2) * image[a.i2 * in_w + b.i1] +
                        static_cast<T>(b.w2 * a.w2) * image[a.i2 * in_w + b.i2];
            dst[(plane * out_h + oy) * out_w + ox] = v;
          }
        }
      }
    } else {
      throw Error("resize: mode linear needs a floating input, got " +
                  std::string(dtype_name(x.dtype())));
    }
  });
  return out;
}

}  // namespace ref

namespace kernel {
namespace {

ref::ResizeMode resize_mode(const std::string& s) {
  return s == "linear" ? ref::ResizeMode::Linear : ref::ResizeMode::Nearest;
}
ref::CoordinateTransform coordinate_transform(const std::string& s) {
  if (s == "align_corners") return ref::CoordinateTransform::AlignCorners;
  if (s == "asymmetric") return ref::CoordinateTransform::Asymmetric;
  if (s == "pytorch_half_pixel") return ref::CoordinateTransform::PytorchHalfPixel;
  return ref::CoordinateTransform::HalfPixel;  // the only other value inference lets through
}
ref::NearestRounding nearest_rounding(const std::string& s) {
  if (s == "round_prefer_ceil") return ref::NearestRounding::RoundPreferCeil;
  if (s == "floor") return ref::NearestRounding::Floor;
  if (s == "ceil") return ref::NearestRounding::Ceil;
  return ref::NearestRounding::RoundPreferFloor;
}

}  // namespace

Outputs conv_transpose2d(const Node& n, Inputs in) {
  ref::ConvTransposeParams p;
  const auto& stride = n.attr_ints("stride");
  const auto& pads = n.attr_ints("pads");
  const auto& output_padding = n.attr_ints("output_padding");
  const auto& dilation = n.attr_ints("dilation");
  for (std::size_t d = 0; d < 2; ++d) {
    p.stride[d] = stride[d];
    p.output_padding[d] = output_padding[d];
    p.dilation[d] = dilation[d];
  }
  for (std::size_t d = 0; d < 4; ++d) p.pads[d] = pads[d];
  p.groups = n.attr_int("groups");
  Outputs out;
  out.push_back(ref::conv_transpose2d_f32(in[0], in[1], in.size() > 2 ? &in[2] : nullptr, p));
  return out;
}

Outputs resize(const Node& n, Inputs in) {
  ref::ResizeParams p;
  p.mode = resize_mode(n.attr_string("mode"));
  p.transform = coordinate_transform(n.attr_string("coordinate_transformation_mode"));
  p.rounding = nearest_rounding(n.attr_string("nearest_mode"));
  const auto& scales = n.attr_floats("scales");
  const auto& size = n.attr_ints("output_size");
  for (std::size_t d = 0; d < 2; ++d) {
    p.scales[d] = static_cast<float>(scales[d]);
    p.output_size[d] = size[d];
  }
  Outputs out;
  out.push_back(ref::resize(in[0], p));
  return out;
}

}  // namespace kernel
}  // namespace quantkit::graph
