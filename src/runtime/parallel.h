#pragma once
// parallel_for: splits [0, n) into contiguous chunks, one per thread (the calling thread
// takes the first). Callers only split independent rows / channels, never a reduction, so
// results do not depend on the thread count.
#include <algorithm>
#include <cstdint>
#include <exception>
#include <thread>
#include <vector>

namespace quantkit::runtime::detail {

// fn(begin, end) for each chunk. `threads` >= 1; fewer threads run when n is small
// (`min_chunk` elements at least per chunk). Rethrows the first exception.
template <typename Fn>
void parallel_for(std::int64_t n, int threads, std::int64_t min_chunk, Fn&& fn) {
  if (n <= 0) return;
  const std::int64_t max_chunks =
      std::max<std::int64_t>(1, n / std::max<std::int64_t>(1, min_chunk));
  const std::int64_t chunks = std::min<std::int64_t>(std::max(threads, 1), max_chunks);
  if (chunks <= 1) {
    fn(std::int64_t{0}, n);
    return;
  }
  const std::int64_t step = (n + chunks - 1) / chunks;
  std::vector<std::exception_ptr> errors(static_cast<std::size_t>(chunks));
  std::vector<std::thread> pool;
  pool.reserve(static_cast<std::size_t>(chunks - 1));
  for (std::int64_t c = 1; c < chunks; ++c) {
    const std::int64_t begin = std::min(n, c * step), end = std::min(n, begin + step);
    pool.emplace_back([&, c, begin, end] {
      try {
        if (begin < end) fn(begin, end);
      } catch (...) {
        errors[static_cast<std::size_t>(c)] = std::current_exception();
      }
    });
  }
  try {
    fn(std::int64_t{0}, std::min(n, step));
  } catch (...) {
    errors[0] = std::current_exception();
  }
  for (std::thread& t : pool) t.join();
  for (const std::exception_ptr& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

}  // namespace quantkit::runtime::detail
