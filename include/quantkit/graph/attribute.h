#pragma once
// Node attributes: the compile-time arguments of an op (stride, quant_min, dtype, ...).
//
// An Attribute holds exactly one of seven kinds. The op registry (op.h) says which
// attributes each op takes and of which kind; the verifier rejects missing, unknown and
// mistyped attributes, so kernels can read them with the typed getters below without
// re-validating the kind.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "quantkit/core/dtype.h"
#include "quantkit/core/tensor.h"

namespace quantkit::graph {

enum class AttrKind : std::uint8_t { Int, Float, Ints, Floats, String, DType, Tensor };

// "int", "float", "ints", "floats", "string", "dtype", "tensor".
std::string_view attr_kind_name(AttrKind kind);

class Attribute {
 public:
  Attribute(std::int64_t v) : value_(v) {}                    // NOLINT(google-explicit-constructor)
  Attribute(int v) : value_(static_cast<std::int64_t>(v)) {}  // NOLINT
  Attribute(double v) : value_(v) {}                          // NOLINT
  Attribute(std::vector<std::int64_t> v) : value_(std::move(v)) {}  // NOLINT
  Attribute(std::vector<double> v) : value_(std::move(v)) {}        // NOLINT
  Attribute(std::string v) : value_(std::move(v)) {}                // NOLINT
  Attribute(const char* v) : value_(std::string(v)) {}              // NOLINT
  Attribute(DType v) : value_(v) {}                                 // NOLINT
  Attribute(Tensor v) : value_(std::move(v)) {}                     // NOLINT

  AttrKind kind() const { return static_cast<AttrKind>(value_.index()); }

  // Typed access; each throws Error naming `what` (e.g. "node 'conv2d' attribute 'stride'")
  // when the attribute holds another kind.
  std::int64_t as_int(std::string_view what = "attribute") const;
  double as_float(std::string_view what = "attribute") const;
  const std::vector<std::int64_t>& as_ints(std::string_view what = "attribute") const;
  const std::vector<double>& as_floats(std::string_view what = "attribute") const;
  const std::string& as_string(std::string_view what = "attribute") const;
  DType as_dtype(std::string_view what = "attribute") const;
  const Tensor& as_tensor(std::string_view what = "attribute") const;

  // Printable form used by the graph dump: 3, 0.5, [1, 1], 'name', int8, tensor(f32[3]).
  std::string to_string() const;
  // Deep copy (tensor attributes get their own storage).
  Attribute clone() const;
  // Same kind and value (tensors compared bitwise).
  friend bool operator==(const Attribute& a, const Attribute& b);

 private:
  // Alternative order must match AttrKind.
  std::variant<std::int64_t, double, std::vector<std::int64_t>, std::vector<double>, std::string,
               DType, Tensor>
      value_;
};

// Attributes by name; ordered so that dumps and comparisons are deterministic.
using AttributeMap = std::map<std::string, Attribute, std::less<>>;

}  // namespace quantkit::graph
