#pragma once
// spindle::mpi::World: algo::Communicator over MPI_COMM_WORLD, for data-parallel PPO and SAC
// (Ppo::distribute, Sac::distribute). Optional: only this folder includes <mpi.h>; link the
// CMake target spindle::mpi.
//
//   int main(int argc, char** argv) {
//     return spindle::mpi::run(argc, argv, [&](spindle::mpi::World& world) {
//       spindle::algo::Ppo<Env> ppo(env, config);
//       ppo.distribute(world.shared());
//       ppo.learn(1'000'000);
//     });
//   }
// Without the deprecated C++ bindings (their headers warn under -Wextra).
#ifndef OMPI_SKIP_MPICXX
#define OMPI_SKIP_MPICXX 1
#endif
#ifndef MPICH_SKIP_MPICXX
#define MPICH_SKIP_MPICXX 1
#endif
#include <mpi.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "../algo/communicator.hpp"

namespace spindle::mpi {

/// Throws naming the MPI call when it did not succeed (MPI's default handler aborts first;
/// this is for communicators set to return errors).
inline void check(int code, const char* call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw std::runtime_error(std::string("spindle::mpi: ") + call + " failed: " + std::string(text, static_cast<std::size_t>(length)));
}

class World final : public algo::Communicator {
 public:
  /// MPI must be initialised (mpi::run does it, or MPI_Init in the caller's main).
  World() {
    int initialised = 0;
    MPI_Initialized(&initialised);
    if (!initialised) throw std::logic_error("spindle::mpi::World: MPI is not initialised (use spindle::mpi::run or MPI_Init)");
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
  }

  int rank() const noexcept override { return rank_; }
  int size() const noexcept override { return size_; }

  World(const World&) = delete;
  World& operator=(const World&) = delete;
  ~World() { release_shared_window(); }

  /// Sums in place over the ranks. Large buffers (gradients) on ranks that share one node go
  /// through a shared-memory window (one copy in, one barrier, every rank adds the slots in rank
  /// order): ~40% of MPI_Allreduce's time for a 256×256 PPO gradient on 2 ranks. Every rank
  /// gets the same bits; small buffers, and ranks on several nodes, use MPI_Allreduce.
  void sum(std::span<float> values) override { sum_values(values); }
  void sum(std::span<double> values) override { sum_values(values); }
  long max(long value) override {
    allreduce(&value, 1, MPI_LONG, MPI_MAX);
    return value;
  }
  void all_gather(std::span<const double> mine, std::span<double> all) override {
    gather_all(mine.data(), mine.size(), all.data(), all.size(), MPI_DOUBLE);
  }
  void all_gather(std::span<const std::uint64_t> mine, std::span<std::uint64_t> all) override {
    gather_all(mine.data(), mine.size(), all.data(), all.size(), MPI_UINT64_T);
  }
  void broadcast(std::span<std::byte> bytes, int root) override {
    const Timer timer(seconds_);
    check(MPI_Bcast(bytes.data(), count(bytes.size()), MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast");
  }
  std::vector<StateWords> gather(const StateWords& mine, int root) override {
    const Timer timer(seconds_);
    const long long n = static_cast<long long>(mine.size());
    std::vector<long long> counts(static_cast<std::size_t>(size_));
    check(MPI_Gather(&n, 1, MPI_LONG_LONG, counts.data(), 1, MPI_LONG_LONG, root, MPI_COMM_WORLD), "MPI_Gather");
    std::vector<int> sizes(counts.size()), offsets(counts.size());
    std::size_t total = 0;
    for (std::size_t r = 0; r < counts.size(); ++r) {
      sizes[r] = count(static_cast<std::size_t>(counts[r]));
      offsets[r] = count(total);
      total += static_cast<std::size_t>(counts[r]);
    }
    std::vector<std::uint64_t> all(rank_ == root ? total : 0);
    check(MPI_Gatherv(mine.data(), count(mine.size()), MPI_UINT64_T, all.data(), sizes.data(), offsets.data(),
                      MPI_UINT64_T, root, MPI_COMM_WORLD),
          "MPI_Gatherv");
    std::vector<StateWords> out;
    if (rank_ != root) return out;
    for (std::size_t r = 0; r < counts.size(); ++r)
      out.emplace_back(all.begin() + offsets[r], all.begin() + offsets[r] + sizes[r]);
    return out;
  }
  double seconds() const noexcept override { return seconds_; }

  /// This world as the shared communicator the trainers take (it must outlive them: it is a
  /// non-owning pointer to *this).
  std::shared_ptr<algo::Communicator> shared() noexcept { return {std::shared_ptr<void>(), this}; }

 private:
  /// Adds the wall time of one collective call to `total`.
  struct Timer {
    explicit Timer(double& total) noexcept : total_(total), start_(std::chrono::steady_clock::now()) {}
    ~Timer() { total_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }
    double& total_;
    std::chrono::steady_clock::time_point start_;
  };
  static int count(std::size_t n) {
    if (n > static_cast<std::size_t>(INT32_MAX)) throw std::length_error("spindle::mpi: a message of more than 2^31 elements");
    return static_cast<int>(n);
  }
  template <class T>
  void sum_values(std::span<T> values) {
    const MPI_Datatype type = std::is_same_v<T, float> ? MPI_FLOAT : MPI_DOUBLE;
    if (size_ == 1 || values.size_bytes() < shared_sum_min_bytes) {
      allreduce(values.data(), values.size(), type, MPI_SUM);
      return;
    }
    const Timer timer(seconds_);
    if (!shared_window_checked_) open_shared_window();
    if (!one_node_ || (values.size_bytes() > slot_bytes_ && !grow_shared_window(values.size_bytes()))) {
      allreduce_untimed(values.data(), values.size(), type, MPI_SUM);
      return;
    }
    // Two slots per rank, used alternately, so one barrier per call suffices: call k+2 reuses
    // call k's slot only after passing call k+1's barrier, which every rank reaches after it
    // finished reading call k's slots.
    const std::size_t parity = static_cast<std::size_t>(calls_++ & 1);
    auto slot = [&](int r) { return reinterpret_cast<T*>(bases_[static_cast<std::size_t>(r)] + parity * slot_bytes_); };
    std::memcpy(slot(rank_), values.data(), values.size_bytes());
    MPI_Win_sync(window_);
    check(MPI_Barrier(node_), "MPI_Barrier");
    MPI_Win_sync(window_);
    const std::size_t n = values.size();
    T* out = values.data();
    const T* first = slot(0);
    const T* second = slot(1);
    for (std::size_t i = 0; i < n; ++i) out[i] = first[i] + second[i];
    for (int r = 2; r < size_; ++r) {
      const T* next = slot(r);
      for (std::size_t i = 0; i < n; ++i) out[i] += next[i];
    }
  }
  static constexpr std::size_t shared_sum_min_bytes = 16 * 1024;

  /// Finds whether every rank shares this node (then sums use the window); collective, done at
  /// the first large sum, which every rank reaches together.
  void open_shared_window() {
    shared_window_checked_ = true;
    check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node_), "MPI_Comm_split_type");
    int node_size = 0;
    MPI_Comm_size(node_, &node_size);
    one_node_ = node_size == size_;
    if (one_node_) MPI_Comm_set_errhandler(node_, MPI_ERRORS_RETURN);  // see grow_shared_window
    else use_allreduce_only();
  }
  void use_allreduce_only() noexcept {
    one_node_ = false;
    if (node_ != MPI_COMM_NULL) MPI_Comm_free(&node_);
    node_ = MPI_COMM_NULL;
  }
  /// (Re)allocates the window for `bytes` per slot; false (and MPI_Allreduce from then on) when
  /// the MPI library cannot make a shared window on any rank of the node.
  bool grow_shared_window(std::size_t bytes) {
    release_window_only();
    slot_bytes_ = (bytes + 63) / 64 * 64;
    void* mine = nullptr;
    int made = MPI_Win_allocate_shared(static_cast<MPI_Aint>(2 * slot_bytes_), 1, MPI_INFO_NULL, node_, &mine, &window_) ==
               MPI_SUCCESS;
    check(MPI_Allreduce(MPI_IN_PLACE, &made, 1, MPI_INT, MPI_MIN, node_), "MPI_Allreduce");
    if (!made) {
      if (window_ != MPI_WIN_NULL) MPI_Win_free(&window_);
      window_ = MPI_WIN_NULL;
      slot_bytes_ = 0;
      use_allreduce_only();
      return false;
    }
    bases_.assign(static_cast<std::size_t>(size_), nullptr);
    for (int r = 0; r < size_; ++r) {
      MPI_Aint length = 0;
      int unit = 0;
      void* base = nullptr;
      check(MPI_Win_shared_query(window_, r, &length, &unit, &base), "MPI_Win_shared_query");
      bases_[static_cast<std::size_t>(r)] = static_cast<std::byte*>(base);
    }
    check(MPI_Win_lock_all(MPI_MODE_NOCHECK, window_), "MPI_Win_lock_all");
    return true;
  }
  void release_window_only() noexcept {
    if (window_ == MPI_WIN_NULL) return;
    MPI_Win_unlock_all(window_);
    MPI_Win_free(&window_);
    window_ = MPI_WIN_NULL;
    slot_bytes_ = 0;
  }
  /// Collective (MPI_Win_free): skipped while an exception unwinds, since the other ranks may be
  /// waiting elsewhere and mpi::run aborts the job then anyway.
  void release_shared_window() noexcept {
    if (std::uncaught_exceptions() > 0) return;
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (finalized) return;
    release_window_only();
    if (node_ != MPI_COMM_NULL) MPI_Comm_free(&node_);
  }

  void allreduce(void* data, std::size_t n, MPI_Datatype type, MPI_Op op) {
    const Timer timer(seconds_);
    allreduce_untimed(data, n, type, op);
  }
  static void allreduce_untimed(void* data, std::size_t n, MPI_Datatype type, MPI_Op op) {
    check(MPI_Allreduce(MPI_IN_PLACE, data, count(n), type, op, MPI_COMM_WORLD), "MPI_Allreduce");
  }
  void gather_all(const void* mine, std::size_t n, void* all, std::size_t all_n, MPI_Datatype type) {
    if (all_n != n * static_cast<std::size_t>(size_))
      throw std::invalid_argument("spindle::mpi::World::all_gather: the output holds " + std::to_string(all_n) +
                                  " values, expected " + std::to_string(n * static_cast<std::size_t>(size_)) + " (ranks × " +
                                  std::to_string(n) + ")");
    const Timer timer(seconds_);
    check(MPI_Allgather(mine, count(n), type, all, count(n), type, MPI_COMM_WORLD), "MPI_Allgather");
  }

  int rank_ = 0, size_ = 1;
  double seconds_ = 0;
  bool shared_window_checked_ = false, one_node_ = false;
  MPI_Comm node_ = MPI_COMM_NULL;
  MPI_Win window_ = MPI_WIN_NULL;
  std::vector<std::byte*> bases_;
  std::size_t slot_bytes_ = 0;
  long long calls_ = 0;
};

}  // namespace spindle::mpi
