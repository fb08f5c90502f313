#pragma once
// Element types a Tensor can hold, with their sizes, names and integer ranges.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

namespace quantkit {

enum class DType : std::uint8_t { Float32, Float64, Int8, UInt8, Int16, Int32, Int64 };

// Size of one element in bytes.
std::size_t dtype_size(DType dtype);
// Lower-case name: "float32", "float64", "int8", "uint8", "int16", "int32", "int64".
std::string_view dtype_name(DType dtype);
// Short names used in dumps and type strings: f32 f64 i8 u8 i16 i32 i64.
std::string_view short_dtype_name(DType dtype);
// Inverse of dtype_name; throws Error naming `arg` for an unknown name.
DType dtype_from_name(std::string_view name, std::string_view arg = "dtype");
bool is_floating(DType dtype);
bool is_integer(DType dtype);
// Full representable range of an integer dtype (throws for floating dtypes).
std::int64_t dtype_min(DType dtype);
std::int64_t dtype_max(DType dtype);

template <class T>
struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::Float32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::Float64; };
template <> struct dtype_of<std::int8_t> { static constexpr DType value = DType::Int8; };
template <> struct dtype_of<std::uint8_t> { static constexpr DType value = DType::UInt8; };
template <> struct dtype_of<std::int16_t> { static constexpr DType value = DType::Int16; };
template <> struct dtype_of<std::int32_t> { static constexpr DType value = DType::Int32; };
template <> struct dtype_of<std::int64_t> { static constexpr DType value = DType::Int64; };
template <class T>
inline constexpr DType dtype_of_v = dtype_of<std::remove_cv_t<T>>::value;

// Calls f(T{}) with T the C++ type of `dtype`.
template <class F>
decltype(auto) visit_dtype(DType dtype, F&& f) {
  switch (dtype) {
    case DType::Float32: return f(float{});
    case DType::Float64: return f(double{});
    case DType::Int8: return f(std::int8_t{});
    case DType::UInt8: return f(std::uint8_t{});
    case DType::Int16: return f(std::int16_t{});
    case DType::Int32: return f(std::int32_t{});
    case DType::Int64: return f(std::int64_t{});
  }
  return f(float{});  // unreachable: every enumerator is handled above
}

// double -> int32 truncating toward zero, saturating at the int32 limits, NaN -> 0. C++'s
// conversion (and torch's .to(int32)) is undefined out of range; this is the defined choice
// every integer path of the library shares (reference kernels, lowering, runtime).
inline std::int32_t saturating_trunc_i32(double v) {
  if (v != v) return 0;
  if (v >= 2147483648.0) return 2147483647;
  if (v <= -2147483649.0) return -2147483647 - 1;
  return static_cast<std::int32_t>(v);
}

}  // namespace quantkit
