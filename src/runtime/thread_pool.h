#pragma once
// A persistent thread pool, one per Runtime (created with it, joined when it is destroyed):
// `num_threads - 1` workers plus the calling thread. Work is split into contiguous chunks
// of independent outputs (rows, pixels, channels), one chunk per thread, never a reduction,
// so results do not depend on the thread count. Dispatching a job costs no allocation:
// workers spin briefly, then sleep on a condition variable until the next job.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace quantkit::runtime::detail {

class ThreadPool {
 public:
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return num_threads_; }

  // fn(begin, end) — or fn(begin, end, chunk) to index per-thread scratch — on contiguous
  // chunks covering [0, n), each at least `min_chunk` long (except when n is smaller), at
  // most one chunk per thread (chunk < num_threads()); the caller runs chunk 0. Blocks
  // until every chunk is done; rethrows the first exception a chunk threw.
  template <typename Fn>
  void parallel_for(std::int64_t n, std::int64_t min_chunk, Fn&& fn) {
    if (n <= 0) return;
    const std::int64_t max_chunks = std::max<std::int64_t>(1, n / std::max<std::int64_t>(1, min_chunk));
    const auto chunks = static_cast<int>(std::min<std::int64_t>(num_threads_, max_chunks));
    if (chunks <= 1) {
      call(fn, std::int64_t{0}, n, 0);
      return;
    }
    struct Job {
      Fn* fn;
      std::int64_t n, step;
      static void invoke(void* self, int chunk) {
        auto* job = static_cast<Job*>(self);
        const std::int64_t begin = std::min(job->n, chunk * job->step);
        const std::int64_t end = std::min(job->n, begin + job->step);
        if (begin < end) ThreadPool::call(*job->fn, begin, end, chunk);
      }
    };
    Job job{&fn, n, (n + chunks - 1) / chunks};
    dispatch(&Job::invoke, &job, chunks);
  }

 private:
  template <typename Fn>
  static void call(Fn& fn, std::int64_t begin, std::int64_t end, int chunk) {
    if constexpr (std::is_invocable_v<Fn&, std::int64_t, std::int64_t, int>) {
      fn(begin, end, chunk);
    } else {
      fn(begin, end);
    }
  }
  using ChunkFn = void (*)(void*, int);
  void dispatch(ChunkFn fn, void* context, int chunks);
  void worker(int index);
  void publish();  // starts the job set in job_* (or the stop) on every worker
  void run_chunk(int chunk);

  int num_threads_;
  std::vector<std::thread> workers_;
  // The current job: written by the caller before `generation_` is bumped.
  ChunkFn job_fn_ = nullptr;
  void* job_context_ = nullptr;
  int job_chunks_ = 0;
  std::vector<std::exception_ptr> errors_;
  std::atomic<std::uint32_t> generation_{0};
  // Sleeping workers wait here; the generation is bumped under the mutex so that no
  // wake-up is lost between a worker's check and its wait.
  std::mutex sleep_mutex_;
  std::condition_variable wake_;
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
};

}  // namespace quantkit::runtime::detail
