#include "quantkit/core/dtype.h"

#include <limits>

#include "quantkit/core/error.h"

namespace quantkit {

std::size_t dtype_size(DType dtype) {
  return visit_dtype(dtype, [](auto v) { return sizeof(v); });
}

std::string_view short_dtype_name(DType dtype) {
  switch (dtype) {
    case DType::Float32:
      return "f32";
    case DType::Float64:
      return "f64";
    case DType::Int8:
      return "i8";
    case DType::UInt8:
      return "u8";
    case DType::Int16:
      return "i16";
    case DType::Int32:
      return "i32";
    case DType::Int64:
      return "i64";
  }
  return "?";
}

std::string_view dtype_name(DType dtype) {
  switch (dtype) {
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
    case DType::Int8: return "int8";
    case DType::UInt8: return "uint8";
    case DType::Int16: return "int16";
    case DType::Int32: return "int32";
    case DType::Int64: return "int64";
  }
  return "unknown";
}

DType dtype_from_name(std::string_view name, std::string_view arg) {
  for (DType d : {DType::Float32, DType::Float64, DType::Int8, DType::UInt8, DType::Int16,
                  DType::Int32, DType::Int64}) {
    if (dtype_name(d) == name) return d;
  }
  throw_invalid_argument("dtype_from_name", arg, name,
                         "one of float32, float64, int8, uint8, int16, int32, int64");
}

bool is_floating(DType dtype) { return dtype == DType::Float32 || dtype == DType::Float64; }
bool is_integer(DType dtype) { return !is_floating(dtype); }

std::int64_t dtype_min(DType dtype) {
  check_argument(is_integer(dtype), "dtype_min", "dtype", dtype_name(dtype), "an integer dtype");
  return visit_dtype(dtype, [](auto v) -> std::int64_t {
    return static_cast<std::int64_t>(std::numeric_limits<decltype(v)>::lowest());
  });
}

std::int64_t dtype_max(DType dtype) {
  check_argument(is_integer(dtype), "dtype_max", "dtype", dtype_name(dtype), "an integer dtype");
  return visit_dtype(dtype, [](auto v) -> std::int64_t {
    return static_cast<std::int64_t>(std::numeric_limits<decltype(v)>::max());
  });
}

}  // namespace quantkit
