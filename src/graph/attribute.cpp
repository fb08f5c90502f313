#include "quantkit/graph/attribute.h"

#include <sstream>
#include <type_traits>

#include "quantkit/core/error.h"

namespace quantkit::graph {

std::string_view attr_kind_name(AttrKind kind) {
  switch (kind) {
    case AttrKind::Int:
      return "int";
    case AttrKind::Float:
      return "float";
    case AttrKind::Ints:
      return "ints";
    case AttrKind::Floats:
      return "floats";
    case AttrKind::String:
      return "string";
    case AttrKind::DType:
      return "dtype";
    case AttrKind::Tensor:
      return "tensor";
  }
  return "unknown";
}

namespace {

template <class T>
const T& get_as(const auto& variant, AttrKind actual, AttrKind wanted, std::string_view what) {
  if (actual != wanted) {
    throw Error(std::string(what) + ": expected a " + std::string(attr_kind_name(wanted)) +
                " attribute, got a " + std::string(attr_kind_name(actual)));
  }
  return std::get<T>(variant);
}

std::string format_double(double v) {
  std::ostringstream os;
  os.precision(9);
  os << v;
  return os.str();
}

}  // namespace

std::int64_t Attribute::as_int(std::string_view what) const {
  return get_as<std::int64_t>(value_, kind(), AttrKind::Int, what);
}
double Attribute::as_float(std::string_view what) const {
  return get_as<double>(value_, kind(), AttrKind::Float, what);
}
const std::vector<std::int64_t>& Attribute::as_ints(std::string_view what) const {
  return get_as<std::vector<std::int64_t>>(value_, kind(), AttrKind::Ints, what);
}
const std::vector<double>& Attribute::as_floats(std::string_view what) const {
  return get_as<std::vector<double>>(value_, kind(), AttrKind::Floats, what);
}
const std::string& Attribute::as_string(std::string_view what) const {
  return get_as<std::string>(value_, kind(), AttrKind::String, what);
}
DType Attribute::as_dtype(std::string_view what) const {
  return get_as<DType>(value_, kind(), AttrKind::DType, what);
}
const Tensor& Attribute::as_tensor(std::string_view what) const {
  return get_as<Tensor>(value_, kind(), AttrKind::Tensor, what);
}

std::string Attribute::to_string() const {
  switch (kind()) {
    case AttrKind::Int:
      return std::to_string(std::get<std::int64_t>(value_));
    case AttrKind::Float:
      return format_double(std::get<double>(value_));
    case AttrKind::Ints: {
      std::string out = "[";
      const auto& v = std::get<std::vector<std::int64_t>>(value_);
      for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + std::to_string(v[i]);
      return out + "]";
    }
    case AttrKind::Floats: {
      std::string out = "[";
      const auto& v = std::get<std::vector<double>>(value_);
      for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + format_double(v[i]);
      return out + "]";
    }
    case AttrKind::String:
      return "'" + std::get<std::string>(value_) + "'";
    case AttrKind::DType:
      return std::string(dtype_name(std::get<DType>(value_)));
    case AttrKind::Tensor: {
      const Tensor& t = std::get<Tensor>(value_);
      return "tensor(" + std::string(dtype_name(t.dtype())) + shape_to_string(t.shape()) + ")";
    }
  }
  return "?";
}

Attribute Attribute::clone() const {
  if (kind() == AttrKind::Tensor) return Attribute(std::get<Tensor>(value_).clone());
  return *this;
}

bool operator==(const Attribute& a, const Attribute& b) {
  if (a.kind() != b.kind()) return false;
  return std::visit(
      [&](const auto& va) {
        using T = std::decay_t<decltype(va)>;
        const T& vb = std::get<T>(b.value_);
        if constexpr (std::is_same_v<T, Tensor>) {
          return bitwise_equal(va, vb);
        } else {
          return va == vb;
        }
      },
      a.value_);
}

}  // namespace quantkit::graph
