#pragma once
// What data-parallel training needs from a group of processes, without naming MPI: the core
// never depends on it. spindle::mpi::World (spindle/mpi/world.hpp) implements this interface
// over MPI_COMM_WORLD; Ppo and Sac take one through distribute().
//
// Every call is collective: every rank of the group must make the same calls in the same
// order with buffers of the same length, or the group hangs (MPI's rule). The trainers keep
// to it by taking the same number of gradient steps on every rank.
#include <bit>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "../core/running_mean_std.hpp"
#include "../core/state_words.hpp"

namespace spindle::algo {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const noexcept = 0;
  virtual int size() const noexcept = 0;

  /// In-place sum over the ranks (allreduce); every rank gets the total.
  virtual void sum(std::span<float> values) = 0;
  virtual void sum(std::span<double> values) = 0;
  /// The largest of the ranks' values, on every rank.
  virtual long max(long value) = 0;
  /// Every rank's `mine` (the same length on every rank), rank by rank into `all`
  /// (size × mine.size()).
  virtual void all_gather(std::span<const double> mine, std::span<double> all) = 0;
  virtual void all_gather(std::span<const std::uint64_t> mine, std::span<std::uint64_t> all) = 0;
  /// `root`'s bytes on every rank.
  virtual void broadcast(std::span<std::byte> bytes, int root) = 0;
  /// Every rank's words (any length) at `root`, rank by rank; empty on the other ranks.
  virtual std::vector<StateWords> gather(const StateWords& mine, int root) = 0;

  /// Seconds spent in the calls above (communication and waiting for the slowest rank).
  virtual double seconds() const noexcept = 0;
};

/// Data-parallel training (Ppo::distribute, Sac::distribute).
struct DistributeOptions {
  /// Compare a checksum of the parameters and optimizer states across ranks every n updates
  /// (0: never; −1: the trainer's default — PPO after every rollout's update, SAC every 1000
  /// gradient steps). A difference throws on every rank.
  long check_every = -1;
};

/// The seed rank `rank` runs with: `seed` itself on rank 0 (a one-rank run is the
/// single-process run), an independent stream on the others. One seed and one rank count
/// make one run.
inline std::uint64_t rank_seed(std::uint64_t seed, int rank) noexcept {
  if (rank == 0) return seed;
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ull * static_cast<std::uint64_t>(rank);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/// A 64-bit hash of a buffer's bytes (8 at a time, then the tail; not cryptographic): the
/// checksum compared across ranks.
template <class T>
std::uint64_t checksum(std::span<const T> values, std::uint64_t h = 0xcbf29ce484222325ull) noexcept {
  const std::span<const std::byte> bytes = std::as_bytes(values);
  const auto mix = [&h](std::uint64_t w) {
    h = (h ^ w) * 0x100000001b3ull;
    h ^= h >> 29;
  };
  std::size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, bytes.data() + i, 8);
    mix(w);
  }
  for (; i < bytes.size(); ++i) mix(static_cast<std::uint64_t>(bytes[i]));
  return h;
}

/// Throws unless every rank holds the same `hash` (`what` names the state compared).
inline void check_identical(Communicator& comm, std::uint64_t hash, const std::string& what, long update) {
  std::vector<std::uint64_t> all(static_cast<std::size_t>(comm.size()));
  comm.all_gather(std::span<const std::uint64_t>(&hash, 1), all);
  for (std::size_t r = 1; r < all.size(); ++r)
    if (all[r] != all[0])
      throw std::runtime_error("distributed training: the " + what + " differ across ranks after update " +
                               std::to_string(update) + " (rank 0 checksum " + std::to_string(all[0]) + ", rank " +
                               std::to_string(r) + " checksum " + std::to_string(all[r]) +
                               "): the ranks were not built alike, or a rank's state was changed outside the trainer");
}

/// `root`'s values of a buffer on every rank (parameters, at the start of a run).
template <class T>
void broadcast_values(Communicator& comm, std::span<T> values, int root = 0) {
  comm.broadcast(std::as_writable_bytes(values), root);
}

/// Statistics gathered on every rank since the last merge, merged (Chan's parallel formula, in
/// rank order, so every rank computes the same numbers) into `base`: the statistics of one
/// process that saw every rank's data. `scratch` holds size × (2·dim + 1) doubles.
inline void merge_across_ranks(Communicator& comm, RunningMeanStd& base, const RunningMeanStd& increment,
                               std::vector<double>& scratch) {
  const auto d = static_cast<std::size_t>(increment.size());
  const std::size_t per_rank = 2 * d + 1;
  std::vector<double> mine(per_rank);
  mine[0] = increment.count();
  for (std::size_t j = 0; j < d; ++j) {
    mine[1 + j] = increment.mean()(static_cast<Eigen::Index>(j));
    mine[1 + d + j] = increment.var()(static_cast<Eigen::Index>(j));
  }
  scratch.resize(per_rank * static_cast<std::size_t>(comm.size()));
  comm.all_gather(mine, scratch);
  for (int r = 0; r < comm.size(); ++r) {
    const double* w = scratch.data() + per_rank * static_cast<std::size_t>(r);
    if (w[0] == 0) continue;
    RunningMeanStd part(increment.size(), 0.0);
    part.set(Eigen::Map<const Eigen::VectorXd>(w + 1, increment.size()),
             Eigen::Map<const Eigen::VectorXd>(w + 1 + d, increment.size()), w[0]);
    base.merge(part);
  }
}

}  // namespace spindle::algo
