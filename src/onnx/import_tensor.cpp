// TensorProto decoding for the importer: dtype mapping and size-checked copies out of
// raw_data or the typed repeated fields. Every size is checked against the dims before the
// tensor is allocated, so a hostile file cannot make us allocate more than it contains.
#include <cstring>
#include <string>

#include "import_context.h"

namespace quantkit::onnx::detail {

std::string_view onnx_type_name(std::int32_t elem_type) {
  switch (elem_type) {
    case ::onnx::TensorProto::FLOAT: return "float";
    case ::onnx::TensorProto::UINT8: return "uint8";
    case ::onnx::TensorProto::INT8: return "int8";
    case ::onnx::TensorProto::UINT16: return "uint16";
    case ::onnx::TensorProto::INT16: return "int16";
    case ::onnx::TensorProto::INT32: return "int32";
    case ::onnx::TensorProto::INT64: return "int64";
    case ::onnx::TensorProto::STRING: return "string";
    case ::onnx::TensorProto::BOOL: return "bool";
    case ::onnx::TensorProto::FLOAT16: return "float16";
    case ::onnx::TensorProto::DOUBLE: return "double";
    case ::onnx::TensorProto::UINT32: return "uint32";
    case ::onnx::TensorProto::UINT64: return "uint64";
    case ::onnx::TensorProto::BFLOAT16: return "bfloat16";
    default: return "unknown";
  }
}

DType dtype_from_onnx(std::int32_t elem_type, std::string_view what) {
  switch (elem_type) {
    case ::onnx::TensorProto::FLOAT: return DType::Float32;
    case ::onnx::TensorProto::DOUBLE: return DType::Float64;
    case ::onnx::TensorProto::INT8: return DType::Int8;
    case ::onnx::TensorProto::UINT8: return DType::UInt8;
    case ::onnx::TensorProto::INT16: return DType::Int16;
    case ::onnx::TensorProto::INT32: return DType::Int32;
    case ::onnx::TensorProto::INT64: return DType::Int64;
    default: break;
  }
  throw Error(std::string(what) + ": element type " + std::to_string(elem_type) + " (" +
              std::string(onnx_type_name(elem_type)) +
              ") is not supported (float, double, int8, uint8, int16, int32, int64)");
}

namespace {

template <class T, class Field>
void copy_field(const Field& field, Tensor& out) {
  T* dst = out.data<T>();
  for (int i = 0; i < field.size(); ++i) dst[i] = static_cast<T>(field.Get(i));
}

// ONNX's INT4 / UINT4 (opset 21, IR 10; Debian's onnx headers predate the enum values):
// two 4-bit values per byte, element i in the low nibble of byte i / 2 when i is even, the
// high nibble when odd. Read into int8 / uint8.
constexpr std::int32_t kOnnxUint4 = 21, kOnnxInt4 = 22;

Tensor int4_from_proto(const ::onnx::TensorProto& proto, const std::string& where, Shape shape) {
  const bool is_signed = proto.data_type() == kOnnxInt4;
  const std::int64_t numel = shape_numel(shape);
  if (!proto.has_raw_data()) {
    throw Error(where + ": " + (is_signed ? "int4" : "uint4") +
                " tensors are read from raw_data only (int32_data is not supported)");
  }
  const std::string& raw = proto.raw_data();
  const auto bytes = static_cast<std::uint64_t>((numel + 1) / 2);
  if (raw.size() != bytes) {
    throw Error(where + ": raw_data has " + std::to_string(raw.size()) + " bytes, the dims " +
                shape_to_string(shape) + " of 4-bit values need " + std::to_string(bytes));
  }
  Tensor out = Tensor::empty(std::move(shape), is_signed ? DType::Int8 : DType::UInt8);
  auto* dst = static_cast<std::uint8_t*>(out.raw_data());
  for (std::int64_t i = 0; i < numel; ++i) {
    const auto byte = static_cast<std::uint8_t>(raw[static_cast<std::size_t>(i / 2)]);
    const int nibble = (i % 2 == 0) ? (byte & 0x0F) : (byte >> 4);
    dst[i] = static_cast<std::uint8_t>(is_signed && nibble >= 8 ? nibble - 16 : nibble);
  }
  return out;
}

}  // namespace

bool is_4bit_onnx_type(std::int32_t elem_type) {
  return elem_type == kOnnxInt4 || elem_type == kOnnxUint4;
}

Tensor tensor_from_proto(const ::onnx::TensorProto& proto, std::string_view what) {
  const std::string where(what);
  if (proto.data_location() == ::onnx::TensorProto::EXTERNAL || proto.external_data_size() > 0) {
    throw Error(where + ": tensors stored in external files are not supported");
  }
  if (proto.has_segment()) throw Error(where + ": segmented tensors are not supported");
  if (is_4bit_onnx_type(proto.data_type())) {
    Shape shape;
    for (std::int64_t d : proto.dims()) {
      if (d < 0) throw Error(where + ": negative dim " + std::to_string(d));
      shape.push_back(d);
    }
    return int4_from_proto(proto, where, std::move(shape));
  }
  const DType dtype = dtype_from_onnx(proto.data_type(), where);
  Shape shape;
  for (std::int64_t d : proto.dims()) {
    if (d < 0) throw Error(where + ": negative dim " + std::to_string(d));
    shape.push_back(d);
  }
  const std::int64_t numel = shape_numel(shape);  // throws on overflow
  const auto count = static_cast<std::uint64_t>(numel);
  auto expect_count = [&](std::uint64_t got, std::string_view field) {
    if (got != count) {
      throw Error(where + ": " + std::string(field) + " holds " + std::to_string(got) +
                  " values, the dims " + shape_to_string(shape) + " need " +
                  std::to_string(count));
    }
  };
  if (proto.has_raw_data()) {
    const std::string& raw = proto.raw_data();
    const std::uint64_t bytes = count * dtype_size(dtype);
    if (count != 0 && bytes / count != dtype_size(dtype)) throw Error(where + ": size overflow");
    if (raw.size() != bytes) {
      throw Error(where + ": raw_data has " + std::to_string(raw.size()) + " bytes, the dims " +
                  shape_to_string(shape) + " of " + std::string(dtype_name(dtype)) + " need " +
                  std::to_string(bytes));
    }
    Tensor out = Tensor::empty(shape, dtype);
    if (bytes != 0) std::memcpy(out.raw_data(), raw.data(), bytes);  // little-endian host
    return out;
  }
  switch (dtype) {
    case DType::Float32: {
      expect_count(static_cast<std::uint64_t>(proto.float_data_size()), "float_data");
      Tensor out = Tensor::empty(shape, dtype);
      copy_field<float>(proto.float_data(), out);
      return out;
    }
    case DType::Float64: {
      expect_count(static_cast<std::uint64_t>(proto.double_data_size()), "double_data");
      Tensor out = Tensor::empty(shape, dtype);
      copy_field<double>(proto.double_data(), out);
      return out;
    }
    case DType::Int64: {
      expect_count(static_cast<std::uint64_t>(proto.int64_data_size()), "int64_data");
      Tensor out = Tensor::empty(shape, dtype);
      copy_field<std::int64_t>(proto.int64_data(), out);
      return out;
    }
    default: {
      // int8/uint8/int16/int32 live in int32_data; values must fit the dtype.
      expect_count(static_cast<std::uint64_t>(proto.int32_data_size()), "int32_data");
      for (std::int32_t v : proto.int32_data()) {
        if (v < dtype_min(dtype) || v > dtype_max(dtype)) {
          throw Error(where + ": int32_data value " + std::to_string(v) + " does not fit " +
                      std::string(dtype_name(dtype)));
        }
      }
      Tensor out = Tensor::empty(shape, dtype);
      visit_dtype(dtype, [&](auto zero) { copy_field<decltype(zero)>(proto.int32_data(), out); });
      return out;
    }
  }
}

}  // namespace quantkit::onnx::detail
