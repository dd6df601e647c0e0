#pragma once
// Examples under `mpirun -np N`: with spindle::mpi, main's body runs inside mpi::run (an error
// on any rank ends the whole job with its message) and each trainer is distributed over the
// ranks; rank 0 alone prints, logs, plots and films (the others' stdout is closed). Without
// MPI, or with one rank, the example runs exactly as a single process.
#include <cstdio>
#include <exception>
#include <memory>
#include <spindle/algo/communicator.hpp>
#ifdef SPINDLE_EXAMPLES_MPI
#include <spindle/mpi.hpp>
#endif

namespace spindle_examples {

struct Ranks {
  std::shared_ptr<spindle::algo::Communicator> comm;  // null in a single process
  int rank = 0, size = 1;
  bool root() const noexcept { return rank == 0; }
  /// Makes `trainer` this rank's part of a data-parallel run (nothing in a single process).
  template <class Trainer>
  void distribute(Trainer& trainer) const {
    if (comm) trainer.distribute(comm);
  }
  /// Seconds spent in collective calls so far (sums over the ranks, waiting included).
  double communication_seconds() const noexcept { return comm ? comm->seconds() : 0.0; }
};

/// Runs body(const Ranks&) as every rank of an MPI job, or as the one process.
template <class Body>
int with_ranks(int& argc, char**& argv, Body&& body) {
#ifdef SPINDLE_EXAMPLES_MPI
  return spindle::mpi::run(argc, argv, [&](spindle::mpi::World& world) {
    Ranks ranks{.comm = world.size() > 1 ? world.shared() : nullptr, .rank = world.rank(), .size = world.size()};
    if (!ranks.root()) (void)!std::freopen("/dev/null", "w", stdout);
    body(ranks);
  });
#else
  (void)argc, (void)argv;
  try {
    body(Ranks{});
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
#endif
}

}  // namespace spindle_examples
