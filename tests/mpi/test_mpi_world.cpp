// spindle::mpi::World's sums, run with `mpirun -np 2`: large buffers go through a shared-memory
// window on one node, small ones through MPI_Allreduce. Either way every rank must get the
// rank-order sum of every rank's values, call after call (the window's two slots alternate),
// as buffers grow (the window is reallocated) and for float and double.
#include <doctest/doctest.h>

#include <cstring>
#include <random>
#include <spindle/mpi.hpp>  // <mpi.h>, without its C++ bindings
#include <vector>

#include "mpi_helpers.hpp"

namespace test_mpi_world {

using mpi_test::rank;
using mpi_test::ranks;

namespace {

template <class T>
MPI_Datatype mpi_type() {
  return std::is_same_v<T, float> ? MPI_FLOAT : MPI_DOUBLE;
}

/// Sums `size` values per rank `calls` times with World::sum, back to back (no other
/// collective between them, so a rank that reused a slot too early would corrupt the other's
/// sum), each call with fresh values, then checks every result against the rank-order sum of all
/// ranks' values (gathered beforehand) bit for bit.
template <class T>
void check_sums(spindle::mpi::World& world, std::size_t size, int calls, std::uint32_t seed) {
  std::mt19937 generator(seed + static_cast<std::uint32_t>(rank()) * 7919u);
  std::normal_distribution<T> normal;
  const std::size_t total = size * static_cast<std::size_t>(calls);
  std::vector<T> mine(total);
  for (T& x : mine) x = normal(generator);
  std::vector<T> all(total * static_cast<std::size_t>(ranks()));
  MPI_Allgather(mine.data(), static_cast<int>(total), mpi_type<T>(), all.data(), static_cast<int>(total), mpi_type<T>(), MPI_COMM_WORLD);
  for (int call = 0; call < calls; ++call) world.sum(std::span<T>(mine.data() + static_cast<std::size_t>(call) * size, size));
  for (int call = 0; call < calls; ++call) {
    const std::size_t offset = static_cast<std::size_t>(call) * size;
    std::vector<T> expected(all.begin() + static_cast<std::ptrdiff_t>(offset), all.begin() + static_cast<std::ptrdiff_t>(offset + size));
    for (int r = 1; r < ranks(); ++r)
      for (std::size_t i = 0; i < size; ++i) expected[i] += all[static_cast<std::size_t>(r) * total + offset + i];
    INFO("size ", size, ", call ", call);
    CHECK(std::memcmp(mine.data() + offset, expected.data(), size * sizeof(T)) == 0);
  }
}

}  // namespace

TEST_CASE("World::sum gives every rank the rank-order sum, through the shared window and through MPI_Allreduce") {
  REQUIRE(ranks() >= 2);
  spindle::mpi::World world;
  const double before = world.seconds();
  check_sums<float>(world, 10, 3, 1);         // 40 bytes: MPI_Allreduce
  check_sums<float>(world, 138534, 30, 2);    // a 256×256 PPO gradient: the window
  check_sums<float>(world, 13288, 30, 3);     // smaller, same window
  check_sums<double>(world, 300000, 3, 4);    // larger: the window grows
  check_sums<float>(world, 4097, 3, 5);       // just above the threshold, an odd length
  check_sums<double>(world, 2, 2, 6);
  CHECK(world.seconds() > before);  // every collective is timed
}

TEST_CASE("Two Worlds one after the other each sum correctly (each owns, then frees, its window)") {
  for (int k = 0; k < 2; ++k) {
    spindle::mpi::World world;
    check_sums<float>(world, 50000, 2, 10 + static_cast<std::uint32_t>(k));
  }
}

}  // namespace test_mpi_world
