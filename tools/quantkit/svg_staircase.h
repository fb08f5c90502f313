#pragma once
// Draws a quantizer's input-vs-output staircase as a standalone SVG (like Figure 2 of the
// APoT paper and PyTorch's quant_levels_visualization).
#include <string>
#include <vector>

namespace quantkit::cli {

// levels: ascending quantization levels (duplicates allowed). The staircase maps each input
// in [x_min, x_max] to its nearest level (ties to the lower level); the dashed diagonal is
// the identity. Returns the SVG document.
std::string staircase_svg(const std::vector<float>& levels, double x_min, double x_max,
                          const std::string& title);

}  // namespace quantkit::cli
