#include "thread_pool.h"

#include "quantkit/core/error.h"

namespace quantkit::runtime::detail {
namespace {

// Spins this many times before sleeping: a CNN layer at batch 1 takes tens of
// microseconds, a futex wake-up several, so workers poll first.
constexpr int kSpinIterations = 20000;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

}  // namespace

ThreadPool::ThreadPool(int num_threads) : num_threads_(num_threads) {
  check_argument(num_threads >= 1 && num_threads <= 256, "ThreadPool", "num_threads",
                 num_threads, "a thread count in [1, 256]");
  errors_.resize(static_cast<std::size_t>(num_threads));
  workers_.reserve(static_cast<std::size_t>(num_threads - 1));
  for (int i = 1; i < num_threads; ++i) workers_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_release);
  publish();
  for (std::thread& t : workers_) t.join();
}

void ThreadPool::publish() {
  {
    const std::lock_guard<std::mutex> lock(sleep_mutex_);
    generation_.fetch_add(1, std::memory_order_acq_rel);
  }
  wake_.notify_all();
}

void ThreadPool::run_chunk(int chunk) {
  try {
    job_fn_(job_context_, chunk);
  } catch (...) {
    errors_[static_cast<std::size_t>(chunk)] = std::current_exception();
  }
}

void ThreadPool::dispatch(ChunkFn fn, void* context, int chunks) {
  job_fn_ = fn;
  job_context_ = context;
  job_chunks_ = chunks;
  // Every worker acknowledges every job (idle ones at once): a worker can then never read
  // the fields of a later job while it handles an earlier one.
  pending_.store(num_threads_ - 1, std::memory_order_relaxed);
  publish();
  run_chunk(0);
  int spins = 0;
  while (pending_.load(std::memory_order_acquire) != 0) {
    if (++spins < kSpinIterations) {
      cpu_relax();
    } else {
      std::this_thread::yield();
    }
  }
  for (int c = 0; c < chunks; ++c) {
    std::exception_ptr& e = errors_[static_cast<std::size_t>(c)];
    if (e) {
      std::exception_ptr first = e;
      for (auto& other : errors_) other = nullptr;
      std::rethrow_exception(first);
    }
  }
}

void ThreadPool::worker(int index) {
  // Generation 0 is the state at construction: a worker that starts late must still see
  // every job (and the stop) published after the pool was made.
  std::uint32_t seen = 0;
  for (;;) {
    int spins = 0;
    std::uint32_t now = generation_.load(std::memory_order_acquire);
    while (now == seen) {
      if (++spins < kSpinIterations) {
        cpu_relax();
      } else {
        std::unique_lock<std::mutex> lock(sleep_mutex_);
        wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
      }
      now = generation_.load(std::memory_order_acquire);
    }
    seen = now;
    if (stop_.load(std::memory_order_acquire)) return;
    if (index < job_chunks_) run_chunk(index);
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

}  // namespace quantkit::runtime::detail
