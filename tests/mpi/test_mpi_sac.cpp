// Data-parallel SAC over MPI, run with `mpirun -np 2`: identical networks, targets, α and
// optimizer states on every rank after training, rank-local replay buffers, per-rank
// checkpoint files that resume bit-identically, one process loading rank 0's file.
#include <doctest/doctest.h>

#include <filesystem>
#include <spindle/algo.hpp>
#include <spindle/envs.hpp>
#include <spindle/mpi.hpp>  // <mpi.h>, without its C++ bindings
#include <spindle/noise.hpp>
#include <vector>

#include "mpi_helpers.hpp"

// One namespace per file: the suites compile as unity builds (several files in one
// translation unit), where file-local helpers of the same name must not meet.
namespace test_mpi_sac {

using namespace spindle;
using mpi_test::rank;
using mpi_test::ranks;
using mpi_test::same_on_every_rank;

namespace {

algo::SacConfig small_sac() {
  algo::SacConfig c;
  c.actor_hidden = c.critic_hidden = {32, 32};
  c.batch_size = 32;
  c.learning_starts = 200;
  c.buffer_size = 5000;
  c.n_envs = 2;
  c.seed = 3;
  return c;
}

template <class Head>
void check_identical(const char* name, typename Head::Config head = {}) {
  CAPTURE(name);
  mpi::World world;
  algo::Sac<envs::Pendulum, Head> sac(envs::Pendulum{}, small_sac(), head);
  sac.distribute(world.shared());
  CHECK(same_on_every_rank(sac.actor().values()));
  const Eigen::VectorXf before = sac.critic().values();
  sac.learn(800);
  CHECK(sac.num_timesteps() == 800);
  CHECK(sac.num_updates() > 100);
  CHECK((sac.critic().values() - before).norm() > 0);
  for (auto* p : {&sac.actor(), &sac.critic(), &sac.critic_target()}) CHECK(same_on_every_rank(p->values()));
  CHECK(same_on_every_rank(Eigen::VectorXf::Constant(1, float(sac.ent_coef()))));
  // Each rank's replay buffer holds its own transitions.
  const auto& b = sac.replay_buffer();
  CHECK(b.size() == 800 / std::size_t(ranks()));
  const Eigen::VectorXf rewards = Eigen::Map<const Eigen::VectorXf>(sac.replay_buffer().rewards().data(), 100);
  CHECK_FALSE(same_on_every_rank(rewards));
}

}  // namespace

TEST_CASE("MPI SAC: networks, targets, α and optimizer states are identical on every rank after training") {
  check_identical<noise::SquashedGaussian<float>>("SquashedGaussian");
  check_identical<noise::Gsde<float>>("Gsde (squashed)", {.squash_output = true});
}

TEST_CASE("MPI SAC: per-rank checkpoint files resume bit-identically; one process loads rank 0's") {
  mpi::World world;
  const algo::SacConfig c = small_sac();
  const auto dir = std::filesystem::temp_directory_path() / "spindle_test_mpi_sac";
  if (rank() == 0) std::filesystem::create_directories(dir);
  MPI_Barrier(MPI_COMM_WORLD);
  const auto path = dir / "sac.npz";

  algo::Sac<envs::Pendulum> straight(envs::Pendulum{}, c);
  straight.distribute(world.shared());
  straight.learn(1000);
  algo::Sac<envs::Pendulum> first(envs::Pendulum{}, c);
  first.distribute(world.shared());
  first.learn(600);
  first.save(path);
  CHECK(std::filesystem::exists(algo::Sac<envs::Pendulum>::rank_path(path, rank())));
  algo::Sac<envs::Pendulum> resumed(envs::Pendulum{}, c);
  resumed.distribute(world.shared());
  CHECK(resumed.load(path) == algo::Resume::exact);
  resumed.learn(1000);
  CHECK(resumed.actor().values() == straight.actor().values());
  CHECK(resumed.critic_target().values() == straight.critic_target().values());

  if (rank() == 0) {
    algo::Sac<envs::Pendulum> single(envs::Pendulum{}, c);
    single.load(path);
    CHECK(single.actor().values() == first.actor().values());
    CHECK(std::isfinite(single.evaluate(1)));
  }
  MPI_Barrier(MPI_COMM_WORLD);
  algo::Sac<envs::Pendulum> wrong(envs::Pendulum{}, c);
  wrong.distribute(world.shared());
  CHECK_THROWS_WITH(wrong.load(dir / "missing.npz"), doctest::Contains("missing"));
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank() == 0) std::filesystem::remove_all(dir);
}

}  // namespace test_mpi_sac
