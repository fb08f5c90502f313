#include "svg_bars.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "quantkit/core/error.h"

namespace quantkit::cli {
namespace {

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

constexpr const char* kColors[] = {"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2",
                                   "#edc948", "#b07aa1", "#ff9da7"};

}  // namespace

std::string bar_chart_svg(const std::string& title, const std::vector<std::string>& rows,
                          const std::vector<BarSeries>& series, const std::string& unit) {
  check_argument(!rows.empty() && !series.empty(), "bar_chart_svg", "rows/series",
                 std::to_string(rows.size()) + "/" + std::to_string(series.size()),
                 "at least one row and one series");
  double cap = 0;
  for (const BarSeries& s : series) {
    check_argument(s.values.size() == rows.size(), "bar_chart_svg", "series '" + s.name + "'",
                   s.values.size(), std::to_string(rows.size()) + " values");
    for (double v : s.values) {
      if (std::isfinite(v)) cap = std::max(cap, v);
    }
  }
  // Non-finite values (an exact layer has SQNR +inf) are drawn 10% beyond the largest.
  cap = cap > 0 ? cap * 1.1 : 1.0;
  const double label_width = 260, plot_width = 460, bar = 12, gap = 8;
  const double row_height = bar * static_cast<double>(series.size()) + gap;
  const double top = 50, legend = 24 * static_cast<double>(series.size());
  const double height = top + row_height * static_cast<double>(rows.size()) + 40 + legend;
  const double width = label_width + plot_width + 80;
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{:.0f}\" height=\"{:.0f}\" "
      "font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" "
      "fill=\"white\"/>\n<text x=\"10\" y=\"24\" font-size=\"15\">{}</text>\n",
      width, height, escape(title));
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const double y0 = top + row_height * static_cast<double>(r);
    svg += fmt::format("<text x=\"{:.0f}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n",
                       label_width - 6, y0 + row_height / 2, escape(rows[r]));
    for (std::size_t s = 0; s < series.size(); ++s) {
      const double v = series[s].values[r];
      const double shown = std::isfinite(v) ? std::max(v, 0.0) : cap;
      const double w = plot_width * shown / cap;
      const double y = y0 + bar * static_cast<double>(s);
      svg += fmt::format(
          "<rect x=\"{:.0f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.0f}\" fill=\"{}\"/>"
          "<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"9\">{}</text>\n",
          label_width, y, w, bar - 1, kColors[s % 8], label_width + w + 3, y + bar - 3,
          std::isfinite(v) ? fmt::format("{:.1f}", v) : std::string("exact"));
    }
  }
  const double axis_y = top + row_height * static_cast<double>(rows.size()) + 4;
  svg += fmt::format(
      "<line x1=\"{0:.0f}\" y1=\"{1:.0f}\" x2=\"{2:.0f}\" y2=\"{1:.0f}\" stroke=\"black\"/>\n"
      "<text x=\"{0:.0f}\" y=\"{3:.0f}\">0</text><text x=\"{2:.0f}\" y=\"{3:.0f}\" "
      "text-anchor=\"end\">{4:.1f} {5}</text>\n",
      label_width, axis_y, label_width + plot_width, axis_y + 14, cap, escape(unit));
  for (std::size_t s = 0; s < series.size(); ++s) {
    const double y = axis_y + 30 + 24 * static_cast<double>(s);
    svg += fmt::format(
        "<rect x=\"{:.0f}\" y=\"{:.0f}\" width=\"14\" height=\"12\" fill=\"{}\"/><text x=\"{:.0f}\" "
        "y=\"{:.0f}\">{}</text>\n",
        label_width, y, kColors[s % 8], label_width + 20, y + 10, escape(series[s].name));
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace quantkit::cli
