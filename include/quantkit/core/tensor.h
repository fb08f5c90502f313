#pragma once
// Tensor: a dense, contiguous, row-major n-d array with a dtype.
//
// Storage is shared (copying a Tensor shares its bytes, like torch.Tensor); owned storage is
// 64-byte aligned so SIMD kernels can use aligned loads on the first element. A Tensor can
// also be a non-owning view over caller memory (from_blob), for zero-copy interop: the caller
// keeps that memory alive. Functions that take `const Tensor&` never write through it.
#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "quantkit/core/dtype.h"
#include "quantkit/core/error.h"

namespace quantkit {

using Shape = std::vector<std::int64_t>;

// Product of the dimensions; throws Error on a negative dimension or on overflow.
std::int64_t shape_numel(const Shape& shape);
// "[2, 3, 4]"
std::string shape_to_string(const Shape& shape);

inline constexpr std::size_t kTensorAlignment = 64;

class Tensor {
 public:
  // An empty float32 tensor of shape [0].
  Tensor();

  // Uninitialized owned storage.
  static Tensor empty(Shape shape, DType dtype);
  // Zero-filled owned storage.
  static Tensor zeros(Shape shape, DType dtype);
  // Non-owning view over `data` (which must hold numel * dtype_size bytes and outlive
  // the view and its copies).
  static Tensor from_blob(void* data, Shape shape, DType dtype);
  // Owned copy of `values` with the given shape (numel must equal values.size()).
  template <class T>
  static Tensor from_vector(const std::vector<T>& values, Shape shape);
  template <class T>
  static Tensor from_vector(const std::vector<T>& values) {
    return from_vector(values, Shape{static_cast<std::int64_t>(values.size())});
  }
  // 0-d tensor holding one value.
  template <class T>
  static Tensor scalar(T value);

  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  std::int64_t dim() const { return static_cast<std::int64_t>(shape_.size()); }
  std::int64_t numel() const { return numel_; }
  // Size of dimension d; negative d counts from the end. Throws Error when out of range.
  std::int64_t size(std::int64_t d) const;
  std::size_t nbytes() const { return static_cast<std::size_t>(numel_) * dtype_size(dtype_); }
  bool owns_storage() const { return static_cast<bool>(storage_); }

  // Typed access; throws Error if T does not match dtype().
  template <class T>
  T* data();
  template <class T>
  const T* data() const;
  template <class T>
  std::span<T> span() { return {data<T>(), static_cast<std::size_t>(numel_)}; }
  template <class T>
  std::span<const T> span() const { return {data<T>(), static_cast<std::size_t>(numel_)}; }
  void* raw_data() { return data_; }
  const void* raw_data() const { return data_; }

  // Copies the elements out into a std::vector<T> (T must match dtype()).
  template <class T>
  std::vector<T> to_vector() const;

  // Deep copy into freshly owned, aligned storage.
  Tensor clone() const;
  // Same storage, new shape with the same numel. One dimension may be -1.
  Tensor reshape(Shape shape) const;
  // Element-wise conversion to another dtype (C++ static_cast semantics; float→int truncates).
  Tensor to(DType dtype) const;

 private:
  Tensor(std::shared_ptr<std::byte> storage, std::byte* data, Shape shape, DType dtype);
  void check_dtype(DType requested) const;

  std::shared_ptr<std::byte> storage_;  // null for views over caller memory
  std::byte* data_ = nullptr;
  Shape shape_;
  std::int64_t numel_ = 0;
  DType dtype_ = DType::Float32;
};

// Type of a tensor value: element dtype and static shape (a graph value's type, a model
// input's type for the data loaders).
struct TensorType {
  DType dtype = DType::Float32;
  Shape shape;

  std::int64_t numel() const { return shape_numel(shape); }
  // "f32[1, 3, 8, 8]", "i8[]".
  std::string to_string() const;
  friend bool operator==(const TensorType&, const TensorType&) = default;
};

// True if both tensors have the same dtype, shape and bytes.
bool bitwise_equal(const Tensor& a, const Tensor& b);

// Every element as a double, for any dtype (int64 values beyond 2^53 round to nearest).
// Used where qparams tensors (scales of any float dtype) are read into plain vectors.
std::vector<double> to_doubles(const Tensor& t);
// Every element as an int64; t must have an integer dtype (Error otherwise: a float -> int
// conversion would need a rounding rule the caller has to choose).
std::vector<std::int64_t> to_int64s(const Tensor& t);

// ---- template definitions ----

template <class T>
T* Tensor::data() {
  check_dtype(dtype_of_v<T>);
  return reinterpret_cast<T*>(data_);
}

template <class T>
const T* Tensor::data() const {
  check_dtype(dtype_of_v<T>);
  return reinterpret_cast<const T*>(data_);
}

template <class T>
Tensor Tensor::from_vector(const std::vector<T>& values, Shape shape) {
  const std::int64_t n = shape_numel(shape);
  check_argument(n == static_cast<std::int64_t>(values.size()), "Tensor::from_vector", "shape",
                 shape_to_string(shape),
                 "a shape with " + std::to_string(values.size()) + " elements");
  Tensor t = empty(std::move(shape), dtype_of_v<T>);
  std::copy(values.begin(), values.end(), t.data<T>());
  return t;
}

template <class T>
Tensor Tensor::scalar(T value) {
  Tensor t = empty(Shape{}, dtype_of_v<T>);
  *t.data<T>() = value;
  return t;
}

template <class T>
std::vector<T> Tensor::to_vector() const {
  const T* p = data<T>();
  return std::vector<T>(p, p + numel_);
}

}  // namespace quantkit
