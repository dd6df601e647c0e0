#pragma once
// spindle::mpi::run: MPI_Init, the body, MPI_Finalize — and on an exception in any rank, the
// error printed with the rank and the whole job aborted (MPI_Abort), so that the other ranks,
// waiting in a collective call for the one that failed, do not hang.
#include "world.hpp"  // <mpi.h> without its C++ bindings

#include <cstdio>
#include <exception>

#include "world.hpp"

namespace spindle::mpi {

/// Runs `body(World&)` between MPI_Init and MPI_Finalize; returns 0, or aborts the job with
/// exit code 1 when `body` throws on any rank. Also for programs launched without mpirun
/// (one rank).
template <class Body>
int run(int& argc, char**& argv, Body&& body) {
  int provided = 0;
  if (MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
    std::fprintf(stderr, "spindle::mpi::run: MPI_Init_thread failed\n");
    return 1;
  }
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  try {
    World world;
    body(world);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rank %d: error: %s (aborting every rank)\n", rank, e.what());
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
    return 1;
  }
  MPI_Finalize();
  return 0;
}

}  // namespace spindle::mpi
