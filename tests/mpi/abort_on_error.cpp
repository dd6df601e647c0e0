// A rank that throws brings the job down with its error (mpi::run → MPI_Abort) instead of
// leaving the other ranks waiting in a collective call. CTest checks the message and a timeout.
#include <spindle/mpi.hpp>
#include <stdexcept>
#include <vector>

int main(int argc, char** argv) {
  return spindle::mpi::run(argc, argv, [](spindle::mpi::World& world) {
    if (world.rank() == 1) throw std::runtime_error("deliberate failure on rank 1");
    std::vector<float> gradient(1000, 1.0f);
    world.sum(gradient);  // rank 0 waits here for a rank that will never come
  });
}
