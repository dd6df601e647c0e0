// Data-parallel training learns, under `mpirun -np 2`: PPO with gSDE on Pendulum in
// rl-baselines3-zoo's settings split over the ranks (2 environments each: the same 4 × 1024
// samples per rollout as one process with 4), and SAC on Pendulum. Every rank evaluates the
// same (identical) policy. Labelled "mpi;learning": seconds in release, left out of the asan preset.
#include <doctest/doctest.h>

#include <spindle/algo.hpp>
#include <spindle/envs.hpp>
#include <spindle/mpi.hpp>  // <mpi.h>, without its C++ bindings
#include <spindle/noise.hpp>

// One namespace per file: the suites compile as unity builds (several files in one
// translation unit), where file-local helpers of the same name must not meet.
namespace test_mpi_learning {

using namespace spindle;

TEST_CASE("MPI PPO with gSDE learns Pendulum within 150k steps over 2 ranks (3 seeds)") {
  int ranks = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  for (std::uint64_t seed : {0u, 1u, 2u}) {
    CAPTURE(seed);
    mpi::World world;
    algo::PpoConfig c;
    c.n_envs = 4 / ranks;
    c.n_steps = 1024;
    c.batch_size = 64 / ranks;  // the whole minibatch: 64, as in one process
    c.n_epochs = 10;
    c.gamma = 0.9;
    c.gae_lambda = 0.95;
    c.learning_rate = 1e-3;
    c.sde_sample_freq = 4;
    c.seed = seed;
    algo::Ppo<envs::Pendulum, noise::Gsde<float>> ppo(envs::Pendulum{}, c, {.log_std_init = 0.0});
    ppo.distribute(world.shared());
    ppo.learn(150'000);
    const double ret = ppo.evaluate(10);
    MESSAGE("seed " << seed << ": mean return " << ret << " after " << ppo.num_timesteps() << " steps");
    CHECK(ret >= -250);
  }
}

TEST_CASE("MPI SAC learns Pendulum over 2 ranks: 20k steps, each rank taking 10k gradient steps (4 of 5 seeds)") {
  // At this budget a seed now and then leaves some episodes hanging (seeds 0–7 measured: seven at
  // −163 to −170, seed 2 at −446): at least 4 of 5 seeds must reach −200, and none may stay near a
  // random policy's −1200.
  int learned = 0;
  for (std::uint64_t seed : {0u, 1u, 2u, 3u, 4u}) {
    CAPTURE(seed);
    mpi::World world;
    algo::SacConfig c;  // the RLtools JMLR setup of the single-process test, the batch split over the ranks
    c.learning_rate = 1e-3;
    c.buffer_size = 10'000;
    c.learning_starts = 100;
    c.batch_size = 100 / world.size();
    c.ent_coef_init = 0.5;
    c.actor_hidden = c.critic_hidden = {64, 64};
    c.seed = seed;
    algo::Sac<envs::Pendulum> sac(envs::Pendulum{}, c);
    sac.distribute(world.shared());
    sac.learn(10'000L * world.size());  // as many gradient steps per rank as one process takes in 10k
    const double ret = sac.evaluate(10);
    MESSAGE("seed " << seed << ": mean return " << ret);
    CHECK(ret >= -600);
    learned += ret >= -200 ? 1 : 0;
  }
  CHECK(learned >= 4);
}

}  // namespace test_mpi_learning
