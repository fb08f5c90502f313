#include "svg_staircase.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

namespace quantkit::cli {
namespace {

constexpr double kWidth = 640, kHeight = 480, kMargin = 60;

struct Frame {
  double x0, x1, y0, y1;
  double px(double x) const { return kMargin + (x - x0) / (x1 - x0) * (kWidth - 2 * kMargin); }
  double py(double y) const {
    return kHeight - kMargin - (y - y0) / (y1 - y0) * (kHeight - 2 * kMargin);
  }
};

std::string axis_ticks(const Frame& f) {
  std::string out;
  for (int i = 0; i <= 4; ++i) {
    const double x = f.x0 + (f.x1 - f.x0) * i / 4.0, y = f.y0 + (f.y1 - f.y0) * i / 4.0;
    out += fmt::format(
        "<line x1='{0:.2f}' y1='{1:.2f}' x2='{0:.2f}' y2='{2:.2f}' stroke='#999'/>"
        "<text x='{0:.2f}' y='{3:.2f}' font-size='12' text-anchor='middle'>{4:.3g}</text>\n",
        f.px(x), kHeight - kMargin, kHeight - kMargin + 5, kHeight - kMargin + 20, x);
    out += fmt::format(
        "<line x1='{0:.2f}' y1='{1:.2f}' x2='{2:.2f}' y2='{1:.2f}' stroke='#999'/>"
        "<text x='{3:.2f}' y='{4:.2f}' font-size='12' text-anchor='end'>{5:.3g}</text>\n",
        kMargin - 5, f.py(y), kMargin, kMargin - 8, f.py(y) + 4, y);
  }
  return out;
}

}  // namespace

std::string staircase_svg(const std::vector<float>& levels, double x_min, double x_max,
                          const std::string& title) {
  std::vector<double> distinct(levels.begin(), levels.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  const double lo = std::min(x_min, distinct.empty() ? x_min : distinct.front());
  const double hi = std::max(x_max, distinct.empty() ? x_max : distinct.back());
  const double pad = (hi - lo) * 0.02 + 1e-12;
  const Frame f{x_min, x_max, lo - pad, hi + pad};

  // The staircase: level j holds from the midpoint below it to the midpoint above it.
  std::string path;
  for (std::size_t j = 0; j < distinct.size(); ++j) {
    const double from = j == 0 ? x_min : std::max(x_min, (distinct[j - 1] + distinct[j]) / 2);
    const double to =
        j + 1 == distinct.size() ? x_max : std::min(x_max, (distinct[j] + distinct[j + 1]) / 2);
    if (to < x_min || from > x_max || to < from) continue;
    path += fmt::format("{}{:.2f},{:.2f} H{:.2f} ", path.empty() ? "M" : "L", f.px(from),
                        f.py(distinct[j]), f.px(to));
  }
  std::string svg = fmt::format(
      "<svg xmlns='http://www.w3.org/2000/svg' width='{0}' height='{1}' viewBox='0 0 {0} {1}' "
      "font-family='sans-serif'>\n<rect width='100%' height='100%' fill='white'/>\n"
      "<text x='{2}' y='30' font-size='16' text-anchor='middle'>{3}</text>\n",
      kWidth, kHeight, kWidth / 2, title);
  svg += fmt::format(
      "<rect x='{0}' y='{0}' width='{1}' height='{2}' fill='none' stroke='black'/>\n", kMargin,
      kWidth - 2 * kMargin, kHeight - 2 * kMargin);
  svg += axis_ticks(f);
  svg += fmt::format(
      "<line x1='{:.2f}' y1='{:.2f}' x2='{:.2f}' y2='{:.2f}' stroke='#888' stroke-dasharray='4 4'/>\n",
      f.px(x_min), f.py(x_min), f.px(x_max), f.py(x_max));
  svg += fmt::format("<path d='{}' fill='none' stroke='#1f77b4' stroke-width='1.5'/>\n", path);
  svg += fmt::format(
      "<text x='{}' y='{}' font-size='13' text-anchor='middle'>input</text>\n"
      "<text x='15' y='{}' font-size='13' text-anchor='middle' transform='rotate(-90 15 {})'>"
      "quantized</text>\n</svg>\n",
      kWidth / 2, kHeight - 15, kHeight / 2, kHeight / 2);
  return svg;
}

}  // namespace quantkit::cli
