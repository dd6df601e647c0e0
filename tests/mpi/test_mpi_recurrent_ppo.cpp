// Data-parallel recurrent PPO over MPI, run with `mpirun -np 2`: identical parameters on every
// rank after training (LSTM and GRU), and a checkpoint (every rank's run and recurrent states in
// rank 0's file) resuming bit-identically; one process loads it.
#include <doctest/doctest.h>

#include <filesystem>
#include <spindle/algo.hpp>
#include <spindle/envs.hpp>
#include <spindle/mpi.hpp>  // <mpi.h>, without its C++ bindings
#include <vector>

#include "mpi_helpers.hpp"

// One namespace per file: the suites compile as unity builds (several files in one
// translation unit), where file-local helpers of the same name must not meet.
namespace test_mpi_recurrent_ppo {

using namespace spindle;
using mpi_test::rank;
using mpi_test::ranks;
using mpi_test::same_on_every_rank;

namespace {

algo::RecurrentPpoConfig small_recurrent(algo::RecurrentCell cell) {
  algo::PpoConfig c;
  c.n_envs = 2;
  c.n_steps = 64;
  c.batch_size = 40;  // minibatches cut sequences in the middle
  c.n_epochs = 2;
  c.policy_hidden = {16};
  c.value_hidden = {16};
  c.normalize_observations = true;
  c.normalize_rewards = true;
  c.seed = 9;
  return {.ppo = c, .lstm_hidden_size = 8, .cell = cell};
}

}  // namespace

TEST_CASE("MPI recurrent PPO: identical parameters on every rank after training (LSTM and GRU)") {
  for (auto cell : {algo::RecurrentCell::lstm, algo::RecurrentCell::gru}) {
    CAPTURE(int(cell));
    mpi::World world;
    const auto c = small_recurrent(cell);
    algo::RecurrentPpo<envs::PendulumNoVel> ppo({}, c);
    ppo.distribute(world.shared());
    const Eigen::VectorXf before = ppo.policy().values();
    CHECK(same_on_every_rank(before));
    ppo.learn(3L * c.ppo.n_steps * c.ppo.n_envs * ranks());
    CHECK(ppo.num_timesteps() == 3L * c.ppo.n_steps * c.ppo.n_envs * ranks());
    CHECK((ppo.policy().values() - before).norm() > 0);
    CHECK(same_on_every_rank(ppo.policy().values()));
  }
}

TEST_CASE("MPI recurrent PPO: a checkpoint resumes with the same ranks bit-identically; one process loads it") {
  mpi::World world;
  const auto c = small_recurrent(algo::RecurrentCell::lstm);
  const long rollout = c.ppo.n_steps * c.ppo.n_envs * ranks();
  const auto dir = std::filesystem::temp_directory_path() / "spindle_test_mpi_recurrent";
  if (rank() == 0) std::filesystem::create_directories(dir);
  MPI_Barrier(MPI_COMM_WORLD);
  const auto path = dir / "rppo.npz";
  algo::RecurrentPpo<envs::PendulumNoVel> straight({}, c);
  straight.distribute(world.shared());
  straight.learn(4 * rollout);
  algo::RecurrentPpo<envs::PendulumNoVel> first({}, c);
  first.distribute(world.shared());
  first.learn(2 * rollout);
  first.save(path);
  algo::RecurrentPpo<envs::PendulumNoVel> resumed({}, c);
  resumed.distribute(world.shared());
  CHECK(resumed.load(path) == algo::Resume::exact);
  resumed.learn(4 * rollout);
  CHECK(resumed.policy().values() == straight.policy().values());
  if (rank() == 0) {
    algo::RecurrentPpo<envs::PendulumNoVel> single({}, c);
    single.load(path);
    CHECK(single.policy().values() == first.policy().values());
    CHECK(std::isfinite(single.evaluate(1)));
  }
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank() == 0) std::filesystem::remove_all(dir);
}

}  // namespace test_mpi_recurrent_ppo
