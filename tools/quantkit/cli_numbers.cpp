#include "cli_numbers.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>

#include "quantkit/core/error.h"

namespace quantkit::cli {
namespace {

// from_chars with the whole text consumed; a leading '+' is accepted (from_chars refuses it) but
// not "+-1".
template <class T>
NumberProblem parse_whole(std::string_view text, T& value) {
  if (text.starts_with('+')) {
    text.remove_prefix(1);
    if (text.starts_with('-')) return NumberProblem::kNotANumber;
  }
  if (text.empty()) return NumberProblem::kNotANumber;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec == std::errc::result_out_of_range) return NumberProblem::kOutOfRange;
  if (ec != std::errc() || ptr != end) return NumberProblem::kNotANumber;
  return NumberProblem::kNone;
}

std::string why(NumberProblem problem, const std::string& text) {
  return "'" + text +
         (problem == NumberProblem::kOutOfRange ? "' is out of range" : "' is not a number");
}

}  // namespace

NumberProblem parse_number(std::string_view text, double& value) {
  return parse_whole(text, value);
}

NumberProblem parse_integer(std::string_view text, std::int64_t& value) {
  return parse_whole(text, value);
}

double parse_number_or_throw(const std::string& text, std::string_view where, std::string_view flag,
                             std::string_view expected) {
  double value = 0;
  const NumberProblem problem = parse_number(text, value);
  if (problem != NumberProblem::kNone) {
    throw_invalid_argument(where, flag, text, std::string(expected) + "; " + why(problem, text));
  }
  return value;
}

std::int64_t parse_integer_or_throw(const std::string& text, std::string_view where,
                                    std::string_view flag, std::string_view expected) {
  std::int64_t value = 0;
  const NumberProblem problem = parse_integer(text, value);
  if (problem != NumberProblem::kNone) {
    throw_invalid_argument(where, flag, text, std::string(expected) + "; " + why(problem, text));
  }
  return value;
}

CLI::Validator integer_in(std::int64_t min, std::int64_t max) {
  const std::string range = fmt::format("an integer from {} to {}", min, max);
  return CLI::Validator(
      [min, max, range](std::string& text) -> std::string {
        std::int64_t value = 0;
        const NumberProblem problem = parse_integer(text, value);
        if (problem == NumberProblem::kNotANumber) {
          return "'" + text + "' is not an integer (expected " + range + ")";
        }
        if (problem == NumberProblem::kOutOfRange || value < min || value > max) {
          return "'" + text + "' is out of range (expected " + range + ")";
        }
        text = std::to_string(value);
        return {};
      },
      "INT in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
}

CLI::Validator number_in(double min, double max) {
  const std::string range = fmt::format("a number from {:g} to {:g}", min, max);
  return CLI::Validator(
      [min, max, range](std::string& text) -> std::string {
        double value = 0;
        const NumberProblem problem = parse_number(text, value);
        if (problem == NumberProblem::kNotANumber || std::isnan(value)) {
          return "'" + text + "' is not a number (expected " + range + ")";
        }
        if (problem == NumberProblem::kOutOfRange || !(value >= min && value <= max)) {
          return "'" + text + "' is out of range (expected " + range + ")";
        }
        text = fmt::format("{}", value);  // shortest text that reads back to the same double
        return {};
      },
      fmt::format("NUMBER in [{:g}, {:g}]", min, max));
}

}  // namespace quantkit::cli
