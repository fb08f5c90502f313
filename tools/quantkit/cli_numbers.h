#pragma once
// Strict numbers for command-line flags. CLI11's own conversion reads "-1" into a size_t as
// 2^64 - 1, "010" as octal and saturates overflow; these accept only one whole decimal number
// and say what is wrong ("not a number", "out of range") naming the flag.
#include <CLI/CLI.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace quantkit::cli {

// Tensors have at most 64 dims (the .npy reader's limit): --axis lies in [-64, 63].
inline constexpr std::int64_t kMaxAxis = 64;
// Every --threads (run, bench, evaluate) lies in [1, kMaxThreads].
inline constexpr std::int64_t kMaxThreads = 256;
// Every --batch-size / --calib-batch-size (run, quantize, compare, evaluate) lies in
// [1, kMaxBatchSize] samples.
inline constexpr std::int64_t kMaxBatchSize = std::int64_t{1} << 20;

enum class NumberProblem { kNone, kNotANumber, kOutOfRange };

// The whole text as one decimal number ("1.5", "-2e-3", "inf", "nan"; a leading '+' is allowed):
// kNotANumber for "abc", "1,5", "0x10", "1.5x"; kOutOfRange for "1e400".
NumberProblem parse_number(std::string_view text, double& value);
// The whole text as one decimal integer: kNotANumber for "1.0", "abc", "0x10"; kOutOfRange beyond
// int64.
NumberProblem parse_integer(std::string_view text, std::int64_t& value);

// Both throw quantkit::Error "<where>: invalid argument '<flag>': got '<text>', expected
// <expected>; '<text>' is not a number" (or "... is out of range").
double parse_number_or_throw(const std::string& text, std::string_view where, std::string_view flag,
                             std::string_view expected);
std::int64_t parse_integer_or_throw(const std::string& text, std::string_view where,
                                    std::string_view flag, std::string_view expected);

// CLI11 validators: an integer / a finite number in [min, max]. They rewrite the text to canonical
// decimal, so CLI11's conversion that follows reads exactly the checked value ("010" is ten, not
// octal eight). Attach with Option::transform: check() drops the rewrite.
CLI::Validator integer_in(std::int64_t min, std::int64_t max);
CLI::Validator number_in(double min, double max);

}  // namespace quantkit::cli
