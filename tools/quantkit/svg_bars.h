#pragma once
// A horizontal grouped bar chart as a standalone SVG: one row per layer, one bar per series
// (e.g. per quantization config), for `quantkit compare` and the main job's report.
#include <string>
#include <vector>

namespace quantkit::cli {

struct BarSeries {
  std::string name;
  std::vector<double> values;  // one per row; non-finite values are drawn at the axis cap
};

// `rows` labels the rows; every series has rows.size() values. `unit` labels the axis.
std::string bar_chart_svg(const std::string& title, const std::vector<std::string>& rows,
                          const std::vector<BarSeries>& series, const std::string& unit);

}  // namespace quantkit::cli
