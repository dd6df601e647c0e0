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
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
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

  void sum(std::span<float> values) override { allreduce(values.data(), values.size(), MPI_FLOAT, MPI_SUM); }
  void sum(std::span<double> values) override { allreduce(values.data(), values.size(), MPI_DOUBLE, MPI_SUM); }
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
  void allreduce(void* data, std::size_t n, MPI_Datatype type, MPI_Op op) {
    const Timer timer(seconds_);
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
};

}  // namespace spindle::mpi
