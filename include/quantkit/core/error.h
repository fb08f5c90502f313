#pragma once
// quantkit::Error: the one exception type every public entry point throws on bad input.
// Messages name the argument, the value received and what was expected, e.g.
//   "quantize_per_tensor: invalid argument 'scale': got -1, expected a finite value > 0"
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

namespace quantkit {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

namespace detail {
template <class T>
std::string describe_value(const T& value) {
  if constexpr (std::is_convertible_v<const T&, std::string_view>) {
    // Built by appending: GCC 12's -Wrestrict misfires on "'" + std::string(...) + "'".
    std::string out;
    out.reserve(std::string_view(value).size() + 2);
    out.push_back('\'');
    out.append(std::string_view(value));
    out.push_back('\'');
    return out;
  } else if constexpr (std::is_same_v<T, bool>) {
    return value ? "true" : "false";
  } else if constexpr (std::is_floating_point_v<T>) {
    std::ostringstream os;
    os.precision(17);
    os << value;
    return os.str();
  } else {
    std::ostringstream os;
    os << value;
    return os.str();
  }
}
}  // namespace detail

// Throws Error("<where>: invalid argument '<arg>': got <value>, expected <expected>").
template <class T>
[[noreturn]] void throw_invalid_argument(std::string_view where, std::string_view arg,
                                         const T& value, std::string_view expected) {
  std::string message(where);
  message.append(": invalid argument '").append(arg).append("': got ");
  message.append(detail::describe_value(value)).append(", expected ").append(expected);
  throw Error(message);
}

// Checks `condition`; on failure throws the invalid-argument message above.
template <class T>
void check_argument(bool condition, std::string_view where, std::string_view arg,
                    const T& value, std::string_view expected) {
  if (!condition) throw_invalid_argument(where, arg, value, expected);
}

}  // namespace quantkit
