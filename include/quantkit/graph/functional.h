#pragma once
// Functional ops on Proxy values for use inside Module::forward (torch.nn.functional and
// torch.* counterparts). Each records one node in the graph being traced, with the calling
// module as its source. Scalars become 0-d constants of the tensor's dtype.
#include <cstdint>
#include <optional>
#include <vector>

#include "quantkit/graph/builder.h"
#include "quantkit/graph/module.h"

namespace quantkit::graph::functional {

Proxy add(const Proxy& a, const Proxy& b);
Proxy sub(const Proxy& a, const Proxy& b);
Proxy mul(const Proxy& a, const Proxy& b);
Proxy div(const Proxy& a, const Proxy& b);
Proxy add(const Proxy& a, double b);
Proxy mul(const Proxy& a, double b);
Proxy relu(const Proxy& x);
Proxy hardtanh(const Proxy& x, double min_val = -1.0, double max_val = 1.0);
Proxy clamp(const Proxy& x, std::optional<double> min, std::optional<double> max);
Proxy cat(const std::vector<Proxy>& xs, std::int64_t dim = 0);
Proxy flatten(const Proxy& x, std::int64_t start_dim = 0, std::int64_t end_dim = -1);
Proxy reshape(const Proxy& x, std::vector<std::int64_t> shape);
Proxy transpose(const Proxy& x, std::int64_t dim0, std::int64_t dim1);
Proxy softmax(const Proxy& x, std::int64_t dim);
Proxy max_pool2d(const Proxy& x, const MaxPool2dOptions& options);
Proxy avg_pool2d(const Proxy& x, const AvgPool2dOptions& options);
Proxy adaptive_avg_pool2d(const Proxy& x, std::vector<std::int64_t> output_size);

}  // namespace quantkit::graph::functional

namespace quantkit::graph {
// Operators as in torch: x + y, x - y, x * y, x / y.
inline Proxy operator+(const Proxy& a, const Proxy& b) { return functional::add(a, b); }
inline Proxy operator-(const Proxy& a, const Proxy& b) { return functional::sub(a, b); }
inline Proxy operator*(const Proxy& a, const Proxy& b) { return functional::mul(a, b); }
inline Proxy operator/(const Proxy& a, const Proxy& b) { return functional::div(a, b); }
}  // namespace quantkit::graph
