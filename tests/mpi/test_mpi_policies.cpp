// Data-parallel PPO with the policy architectures beyond the MLP, run with `mpirun -np 2`:
// DMAP, the TCN and the privileged-input Oracle (each with the privileged critic) stay identical
// on every rank while the ranks see different episodes, and a DMAP run (whose history windows are
// per-rank run state) resumes with the same ranks bit-identically.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <spindle/algo.hpp>
#include <spindle/envs.hpp>
#include <spindle/mpi.hpp>  // <mpi.h>, without its C++ bindings
#include <spindle/noise.hpp>
#include <spindle/policy.hpp>

#include "../hidden_tasks.hpp"
#include "mpi_helpers.hpp"

// One namespace per file: the suites compile as unity builds (several files in one
// translation unit), where file-local helpers of the same name must not meet.
namespace test_mpi_policies {

using namespace spindle;
using mpi_test::rank;
using mpi_test::ranks;
using mpi_test::same_on_every_rank;

namespace {

algo::PpoConfig small_config() {
  algo::PpoConfig c;
  c.n_steps = 48;
  c.n_envs = 2;
  c.batch_size = 32;
  c.n_epochs = 2;
  c.policy_hidden = {16};
  c.value_hidden = {16};
  c.normalize_observations = true;
  c.seed = 9;
  return c;
}

const policy::Dmap::Config small_dmap{.history = 6, .filters = 4, .convolutions = {{3, 2}, {2, 1}}, .encoder_hidden = {8},
                                      .code_size = 6, .embedding = 2, .controller_hidden = {8}};
const policy::Oracle::Config privileged_critic{.encoder_hidden = {8}};

template <class Algo>
void check_identical_after_training(Algo& ppo, const std::string& name) {
  CAPTURE(name);
  mpi::World world;
  const algo::PpoConfig& c = ppo.config();
  ppo.distribute(world.shared());
  REQUIRE(same_on_every_rank(ppo.policy().values()));
  const Eigen::VectorXf before = ppo.policy().values();
  ppo.learn(3L * c.n_steps * c.n_envs * ranks());
  CHECK(ppo.num_timesteps() == 3L * c.n_steps * c.n_envs * ranks());
  CHECK((ppo.policy().values() - before).norm() > 0);
  CHECK(same_on_every_rank(ppo.policy().values()));
  CHECK(same_on_every_rank(ppo.optimizer().second_moment()));
  CHECK(same_on_every_rank(Eigen::VectorXd(ppo.envs().obs_rms().var()).cast<float>()));
  // The ranks drew different episodes and actions (their own seeds), so the checks above can fail.
  const auto& log_probs = ppo.rollout_buffer().log_probs();
  CHECK_FALSE(same_on_every_rank(Eigen::Map<const Eigen::VectorXf>(log_probs.data(), log_probs.size())));
}

}  // namespace

TEST_CASE("MPI PPO: DMAP, TCN and Oracle policies (privileged critic) stay identical on every rank") {
  const algo::PpoConfig c = small_config();
  {
    algo::Ppo<spindle_test::HiddenGain, noise::DiagGaussian<float>, policy::Dmap, policy::PrivilegedCritic> ppo(
        {}, c, {}, small_dmap, privileged_critic);
    check_identical_after_training(ppo, "Dmap");
  }
  {
    algo::Ppo<spindle_test::HiddenGain, noise::Gsde<float>, policy::Tcn, policy::PrivilegedCritic> ppo(
        {}, c, {}, {.history = 6, .step_hidden = {8}, .step_features = 4, .filters = 4, .convolutions = {{3, 2}, {2, 1}}},
        privileged_critic);
    check_identical_after_training(ppo, "Tcn");
  }
  {
    algo::Ppo<spindle_test::HiddenTarget, noise::Lattice<float>, policy::Oracle, policy::PrivilegedCritic> ppo(
        {}, c, {}, {.encoder_hidden = {8}}, privileged_critic);
    check_identical_after_training(ppo, "Oracle");
  }
}

TEST_CASE("MPI PPO: a DMAP run resumes with the same ranks bit-identically (per-rank history windows)") {
  mpi::World world;
  const algo::PpoConfig c = small_config();
  const long rollout = c.n_steps * c.n_envs * ranks();
  const auto dir = std::filesystem::temp_directory_path() / "spindle_test_mpi_dmap";
  if (rank() == 0) std::filesystem::create_directories(dir);
  MPI_Barrier(MPI_COMM_WORLD);
  const auto path = dir / "dmap.npz";
  using Algo = algo::Ppo<envs::Pendulum, noise::DiagGaussian<float>, policy::Dmap, policy::HistoryMlp>;
  const policy::HistoryMlp::Config critic{.history = 4};

  Algo straight({}, c, {}, small_dmap, critic);
  straight.distribute(world.shared());
  straight.learn(4 * rollout);

  Algo first({}, c, {}, small_dmap, critic);
  first.distribute(world.shared());
  first.learn(2 * rollout);
  first.save(path);
  Algo resumed({}, c, {}, small_dmap, critic);
  resumed.distribute(world.shared());
  CHECK(resumed.load(path) == algo::Resume::exact);
  resumed.learn(4 * rollout);
  CHECK(resumed.num_timesteps() == straight.num_timesteps());
  CHECK(resumed.policy().values() == straight.policy().values());
  CHECK(resumed.rollout_buffer().all_observations() == straight.rollout_buffer().all_observations());
  CHECK(same_on_every_rank(resumed.policy().values()));
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank() == 0) std::filesystem::remove_all(dir);
}

}  // namespace test_mpi_policies
