#pragma once
// What the MPI test files share: this process's rank, the job's size, and whether every rank
// holds exactly the same values.
#include <Eigen/Core>
#include <spindle/mpi.hpp>  // <mpi.h>, without its C++ bindings
#include <vector>

namespace mpi_test {

inline int rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}
inline int ranks() {
  int n = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  return n;
}
/// Every rank's values, rank by rank (the same length on every rank).
inline std::vector<float> all_gather(const Eigen::VectorXf& mine) {
  std::vector<float> all(static_cast<std::size_t>(mine.size() * ranks()));
  MPI_Allgather(mine.data(), static_cast<int>(mine.size()), MPI_FLOAT, all.data(), static_cast<int>(mine.size()), MPI_FLOAT,
                MPI_COMM_WORLD);
  return all;
}
/// True when every rank holds exactly these values (each rank's block against rank 0's).
inline bool same_on_every_rank(const Eigen::VectorXf& mine) {
  const std::vector<float> all = all_gather(mine);
  for (int r = 1; r < ranks(); ++r)
    if (Eigen::Map<const Eigen::VectorXf>(all.data() + r * mine.size(), mine.size()) !=
        Eigen::Map<const Eigen::VectorXf>(all.data(), mine.size()))
      return false;
  return true;
}

}  // namespace mpi_test
