// doctest main for the tests run under mpirun: every rank runs every case; only rank 0 reports
// (the others' output goes to their own summary line on failure); the job fails when any rank
// failed.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <spindle/mpi/world.hpp>  // <mpi.h>, without its C++ bindings

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  doctest::Context context(argc, argv);
  if (rank != 0) context.setOption("minimal", true);  // failures still print, with the rank's summary
  int result = context.run();
  int worst = result;
  MPI_Allreduce(&result, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  return context.shouldExit() ? result : worst;
}
