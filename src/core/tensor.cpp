#include "quantkit/core/tensor.h"

#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>

namespace quantkit {

std::int64_t shape_numel(const Shape& shape) {
  std::int64_t n = 1;
  for (std::int64_t d : shape) {
    check_argument(d >= 0, "shape_numel", "shape", shape_to_string(shape),
                   "non-negative dimensions");
    if (d != 0 && n > std::numeric_limits<std::int64_t>::max() / d) {
      throw_invalid_argument("shape_numel", "shape", shape_to_string(shape),
                             "a shape whose element count fits in int64");
    }
    n *= d;
  }
  return n;
}

std::string shape_to_string(const Shape& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

namespace {
// 64-byte aligned allocation; at least one byte so empty tensors still have storage.
std::shared_ptr<std::byte> allocate_aligned(std::size_t nbytes) {
  const std::size_t rounded =
      ((nbytes == 0 ? 1 : nbytes) + kTensorAlignment - 1) / kTensorAlignment * kTensorAlignment;
  void* p = std::aligned_alloc(kTensorAlignment, rounded);
  if (!p) throw Error("Tensor: cannot allocate " + std::to_string(nbytes) + " bytes");
  return std::shared_ptr<std::byte>(static_cast<std::byte*>(p), [](std::byte* q) { std::free(q); });
}

// Refuses sizes whose byte count overflows size_t before trying to allocate them.
std::size_t checked_nbytes(std::int64_t numel, DType dtype) {
  const auto elem = static_cast<std::int64_t>(dtype_size(dtype));
  if (numel > std::numeric_limits<std::int64_t>::max() / elem) {
    throw_invalid_argument("Tensor::empty", "numel", numel, "a size whose byte count fits");
  }
  return static_cast<std::size_t>(numel * elem);
}
}  // namespace

Tensor::Tensor() : Tensor(allocate_aligned(0), nullptr, Shape{0}, DType::Float32) {}

Tensor::Tensor(std::shared_ptr<std::byte> storage, std::byte* data, Shape shape, DType dtype)
    : storage_(std::move(storage)),
      data_(data ? data : storage_.get()),
      shape_(std::move(shape)),
      numel_(shape_numel(shape_)),
      dtype_(dtype) {}

Tensor Tensor::empty(Shape shape, DType dtype) {
  const std::size_t nbytes = checked_nbytes(shape_numel(shape), dtype);
  return Tensor(allocate_aligned(nbytes), nullptr, std::move(shape), dtype);
}

Tensor Tensor::zeros(Shape shape, DType dtype) {
  Tensor t = empty(std::move(shape), dtype);
  std::memset(t.raw_data(), 0, t.nbytes());
  return t;
}

Tensor Tensor::from_blob(void* data, Shape shape, DType dtype) {
  const std::int64_t n = shape_numel(shape);
  check_argument(data != nullptr || n == 0, "Tensor::from_blob", "data", "nullptr",
                 "a non-null pointer for a non-empty shape");
  Tensor t;
  t.storage_.reset();
  t.data_ = static_cast<std::byte*>(data);
  t.shape_ = std::move(shape);
  t.numel_ = n;
  t.dtype_ = dtype;
  return t;
}

std::int64_t Tensor::size(std::int64_t d) const {
  const std::int64_t nd = dim();
  check_argument(d >= -nd && d < nd, "Tensor::size", "dim", d,
                 "a dimension in [" + std::to_string(-nd) + ", " + std::to_string(nd) + ")");
  return shape_[static_cast<std::size_t>(d < 0 ? d + nd : d)];
}

void Tensor::check_dtype(DType requested) const {
  if (requested != dtype_) {
    throw Error("Tensor::data: requested element type " + std::string(dtype_name(requested)) +
                " but the tensor holds " + std::string(dtype_name(dtype_)));
  }
}

Tensor Tensor::clone() const {
  Tensor t = empty(shape_, dtype_);
  if (nbytes()) std::memcpy(t.raw_data(), data_, nbytes());
  return t;
}

Tensor Tensor::reshape(Shape shape) const {
  std::int64_t known = 1;
  int infer = -1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      check_argument(infer < 0, "Tensor::reshape", "shape", shape_to_string(shape),
                     "at most one -1 dimension");
      infer = static_cast<int>(i);
    } else {
      check_argument(shape[i] >= 0, "Tensor::reshape", "shape", shape_to_string(shape),
                     "dimensions >= 0 or -1");
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    check_argument(known != 0 && numel_ % known == 0, "Tensor::reshape", "shape",
                   shape_to_string(shape),
                   "a shape compatible with " + std::to_string(numel_) + " elements");
    shape[static_cast<std::size_t>(infer)] = numel_ / known;
  }
  check_argument(shape_numel(shape) == numel_, "Tensor::reshape", "shape", shape_to_string(shape),
                 "a shape with " + std::to_string(numel_) + " elements");
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::to(DType dtype) const {
  Tensor out = empty(shape_, dtype);
  visit_dtype(dtype_, [&](auto src_tag) {
    using Src = decltype(src_tag);
    const Src* src = data<Src>();
    visit_dtype(dtype, [&](auto dst_tag) {
      using Dst = decltype(dst_tag);
      Dst* dst = out.data<Dst>();
      for (std::int64_t i = 0; i < numel_; ++i) {
        if constexpr (std::is_floating_point_v<Src> && std::is_integral_v<Dst>) {
          // Float→int conversion of a value out of range is UB in C++: refuse it.
          const long double v = src[i];
          const long double lo = static_cast<long double>(std::numeric_limits<Dst>::lowest());
          const long double hi_excl =
              static_cast<long double>(std::numeric_limits<Dst>::max()) + 1.0L;
          check_argument(v >= lo && v < hi_excl, "Tensor::to", "value", src[i],
                         std::string("a finite value representable in ") +
                             std::string(dtype_name(dtype)));
          dst[i] = static_cast<Dst>(v);
        } else {
          dst[i] = static_cast<Dst>(src[i]);
        }
      }
    });
  });
  return out;
}

bool bitwise_equal(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         (a.nbytes() == 0 || std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0);
}

std::string TensorType::to_string() const {
  return std::string(short_dtype_name(dtype)) + shape_to_string(shape);
}

std::vector<double> to_doubles(const Tensor& t) {
  std::vector<double> out(static_cast<std::size_t>(t.numel()));
  visit_dtype(t.dtype(), [&](auto zero) {
    const auto* p = t.data<decltype(zero)>();
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<double>(p[i]);
  });
  return out;
}

std::vector<std::int64_t> to_int64s(const Tensor& t) {
  std::vector<std::int64_t> out(static_cast<std::size_t>(t.numel()));
  visit_dtype(t.dtype(), [&](auto zero) {
    using T = decltype(zero);
    if constexpr (std::is_integral_v<T>) {
      const T* p = t.data<T>();
      for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<std::int64_t>(p[i]);
    } else {
      throw_invalid_argument("to_int64s", "t.dtype", dtype_name(t.dtype()), "an integer dtype");
    }
  });
  return out;
}

}  // namespace quantkit
