// Data-parallel PPO over MPI, run with `mpirun -np 2`: identical parameters on every rank, the
// averaged gradient against one process's gradient of the concatenated minibatch, merged
// normalisation statistics against one process that saw every rank's observations, resume
// with the same number of ranks, a single process loading a distributed checkpoint, and the
// errors (configurations that differ, a checkpoint of another rank count).
#include <doctest/doctest.h>

#include <filesystem>
#include <spindle/algo.hpp>
#include <spindle/envs.hpp>
#include <spindle/mpi.hpp>  // <mpi.h>, without its C++ bindings
#include <spindle/noise.hpp>
#include <spindle/policy.hpp>
#include <vector>

#include "mpi_helpers.hpp"

// One namespace per file: the suites compile as unity builds (several files in one
// translation unit), where file-local helpers of the same name must not meet.
namespace test_mpi_ppo {

using namespace spindle;
using mpi_test::all_gather;
using mpi_test::rank;
using mpi_test::ranks;
using mpi_test::same_on_every_rank;

namespace {

std::vector<double> all_gather(const std::vector<double>& mine) {
  std::vector<double> all(mine.size() * static_cast<std::size_t>(ranks()));
  MPI_Allgather(mine.data(), static_cast<int>(mine.size()), MPI_DOUBLE, all.data(), static_cast<int>(mine.size()), MPI_DOUBLE,
                MPI_COMM_WORLD);
  return all;
}

algo::PpoConfig small_config() {
  algo::PpoConfig c;
  c.n_steps = 64;
  c.n_envs = 2;
  c.batch_size = 32;
  c.n_epochs = 2;
  c.policy_hidden = {16, 16};
  c.value_hidden = {16, 16};
  c.normalize_observations = true;
  c.normalize_rewards = true;
  c.seed = 5;
  return c;
}

std::filesystem::path shared_temp_dir(const char* name) {
  // one folder for the job (rank 0 creates it; everybody waits)
  const auto dir = std::filesystem::temp_directory_path() / name;
  if (rank() == 0) std::filesystem::create_directories(dir);
  MPI_Barrier(MPI_COMM_WORLD);
  return dir;
}

template <class Head>
void check_identical_after_training(const char* head_name) {
  CAPTURE(head_name);
  mpi::World world;
  algo::PpoConfig c = small_config();
  c.sde_sample_freq = 8;
  algo::Ppo<envs::Pendulum, Head> ppo(envs::Pendulum{}, c);
  ppo.distribute(world.shared());
  CHECK(same_on_every_rank(ppo.policy().values()));
  const Eigen::VectorXf before = ppo.policy().values();
  ppo.learn(4L * c.n_steps * c.n_envs * ranks());  // 4 rollouts: steps count every rank's
  CHECK(ppo.num_timesteps() == 4L * c.n_steps * c.n_envs * ranks());
  CHECK((ppo.policy().values() - before).norm() > 0);
  CHECK(same_on_every_rank(ppo.policy().values()));
  CHECK(same_on_every_rank(ppo.optimizer().second_moment()));
  const Eigen::VectorXd mean = ppo.envs().obs_rms().mean();
  CHECK(same_on_every_rank(mean.cast<float>()));
  // The ranks saw different episodes: their rollouts' observations differ.
  CHECK_FALSE(same_on_every_rank(Eigen::Map<const Eigen::VectorXf>(ppo.rollout_buffer().all_observations().data(),
                                                                    ppo.rollout_buffer().all_observations().size())));
  CHECK(world.seconds() > 0);
}

}  // namespace

TEST_CASE("MPI: the job has at least two ranks") { REQUIRE(ranks() >= 2); }

TEST_CASE("MPI PPO: parameters and optimizer state are identical on every rank after training, for every noise head") {
  check_identical_after_training<noise::DiagGaussian<float>>("DiagGaussian");
  check_identical_after_training<noise::Gsde<float>>("Gsde");
  check_identical_after_training<noise::Lattice<float>>("Lattice");
}

TEST_CASE("MPI PPO: a history-window policy (HistoryMlp actor and critic) stays identical on every rank") {
  mpi::World world;
  algo::PpoConfig c = small_config();
  algo::Ppo<envs::Pendulum, noise::Gsde<float>, policy::HistoryMlp, policy::HistoryMlp> ppo({}, c, {}, {.history = 4},
                                                                                           {.history = 3});
  ppo.distribute(world.shared());
  const Eigen::VectorXf before = ppo.policy().values();
  ppo.learn(3L * c.n_steps * c.n_envs * ranks());
  CHECK((ppo.policy().values() - before).norm() > 0);
  CHECK(same_on_every_rank(ppo.policy().values()));
}

TEST_CASE("MPI PPO: a short last minibatch and target_kl's early stop keep every rank identical") {
  // 100 samples per rank in minibatches of 32: the last has 4 (weight 4/32 on each rank); a tiny
  // target_kl stops the epochs on every rank at the same minibatch, from the KL summed over the ranks.
  mpi::World world;
  algo::PpoConfig c = small_config();
  c.n_steps = 50;
  c.n_epochs = 3;
  c.target_kl = 1e-6;
  algo::Ppo<envs::Pendulum, noise::Lattice<float>> ppo(envs::Pendulum{}, c);
  ppo.distribute(world.shared());
  const Eigen::VectorXf before = ppo.policy().values();
  std::vector<long> stops;  // gradient steps per update
  ppo.hooks().on_update = [&](const algo::PpoUpdate& u) { stops.push_back(u.gradient_steps); };
  ppo.learn(3L * c.n_steps * c.n_envs * ranks());
  REQUIRE(stops.size() == 3);
  CHECK(ppo.last_update().stopped_early);
  CHECK((ppo.policy().values() - before).norm() > 0);
  CHECK(same_on_every_rank(ppo.policy().values()));
  CHECK(same_on_every_rank(ppo.optimizer().first_moment()));
  CHECK(same_on_every_rank(Eigen::Map<const Eigen::Matrix<long, Eigen::Dynamic, 1>>(stops.data(), 3).cast<float>()));
  // Without target_kl every epoch runs its 4 minibatches (the short one included).
  algo::PpoConfig full = c;
  full.target_kl.reset();
  algo::Ppo<envs::Pendulum, noise::Lattice<float>> all(envs::Pendulum{}, full);
  all.distribute(world.shared());
  all.learn(c.n_steps * c.n_envs * ranks());
  CHECK(all.last_update().gradient_steps == 4L * c.n_epochs);
  CHECK(same_on_every_rank(all.policy().values()));
}

TEST_CASE("MPI PPO: the averaged gradient is one process's gradient of every rank's minibatch together") {
  // One minibatch per rollout on each rank (batch_size = n_steps · n_envs, one epoch): the
  // distributed step's gradient must be the gradient of the mean loss over both ranks' samples,
  // advantages normalised over both — computed again by one process from the gathered rollouts.
  mpi::World world;
  algo::PpoConfig c = small_config();
  c.normalize_observations = false;  // the buffers hold what the networks saw either way; keep it simple
  c.normalize_rewards = false;
  c.n_epochs = 1;
  c.batch_size = c.n_steps * c.n_envs;
  c.max_grad_norm = 1e9;
  c.ent_coef = 0.01;
  algo::Ppo<envs::Pendulum> ppo(envs::Pendulum{}, c);
  ppo.distribute(world.shared());
  const Eigen::VectorXf initial = ppo.policy().values();
  std::vector<float> samples;  // per sample: observation, action, log π_old, advantage, return, value
  Eigen::VectorXf gradient;
  ppo.hooks().on_rollout = [&](algo::RolloutBuffer<float>& b) {
    const auto obs = b.all_observations();
    for (Eigen::Index k = 0; k < b.total(); ++k) {
      for (Eigen::Index j = 0; j < obs.rows(); ++j) samples.push_back(obs(j, k));
      samples.push_back(b.actions_at(k / c.n_envs)(0, k % c.n_envs));
      for (auto* a : {&b.log_probs(), &b.advantages(), &b.returns(), &b.values()}) samples.push_back(a->data()[k]);
    }
  };
  ppo.hooks().on_gradient = [&](const nn::Parameters<float>& p) { gradient = p.grads(); };
  ppo.learn(c.n_steps * c.n_envs * ranks());  // one rollout, one gradient step
  REQUIRE(gradient.size() == initial.size());

  const std::vector<float> all = all_gather(Eigen::Map<const Eigen::VectorXf>(samples.data(), Eigen::Index(samples.size())));
  const Eigen::Index per_sample = 3 + 1 + 4, total = c.n_steps * c.n_envs * ranks();
  REQUIRE(Eigen::Index(all.size()) == per_sample * total);

  // One process, one environment, every rank's samples in its buffer, the same parameters.
  algo::PpoConfig one = c;
  one.n_envs = 1;
  one.n_steps = total;
  one.batch_size = total;
  algo::Ppo<envs::Pendulum> reference(envs::Pendulum{}, one);
  reference.policy().values() = initial;
  Eigen::VectorXf reference_gradient;
  reference.hooks().on_rollout = [&](algo::RolloutBuffer<float>& b) {
    for (Eigen::Index k = 0; k < total; ++k) {
      const float* s = all.data() + k * per_sample;
      b.observations_at(k) = Eigen::Map<const Eigen::Vector3f>(s);
      b.actions_at(k)(0, 0) = s[3];
      b.log_probs()(std::size_t(k), 0) = s[4];
      b.advantages()(std::size_t(k), 0) = s[5];
      b.returns()(std::size_t(k), 0) = s[6];
      b.values()(std::size_t(k), 0) = s[7];
      b.valid()(std::size_t(k), 0) = 1;
    }
  };
  reference.hooks().on_gradient = [&](const nn::Parameters<float>& p) { reference_gradient = p.grads(); };
  reference.learn(total);
  REQUIRE(reference_gradient.size() == gradient.size());
  CHECK(gradient.norm() > 0);
  CHECK((gradient - reference_gradient).norm() <= 1e-5f * reference_gradient.norm());
  // A rank's gradient alone is not it (the check can fail).
  CHECK(same_on_every_rank(gradient));
}

TEST_CASE("MPI PPO: merged normalisation statistics are those of one process that saw every rank's observations") {
  mpi::World world;
  algo::PpoConfig c = small_config();
  algo::Ppo<envs::Pendulum> ppo(envs::Pendulum{}, c);
  ppo.distribute(world.shared());
  // Every raw observation the statistics take: the first reset's (re-created from the rank's
  // seed) and those after each step (no episode ends within these 2 × 64 steps).
  std::vector<double> seen;
  {
    VectorEnv<envs::Pendulum> v(c.n_envs, envs::Pendulum{});
    const auto first = v.reset(algo::rank_seed(c.seed, rank()));
    for (Eigen::Index i = 0; i < first.rows(); ++i)
      for (Eigen::Index j = 0; j < first.cols(); ++j) seen.push_back(first(i, j));
  }
  ppo.hooks().on_step = [&](long) {
    const auto raw = ppo.envs().raw_observations();
    for (Eigen::Index i = 0; i < raw.rows(); ++i)
      for (Eigen::Index j = 0; j < raw.cols(); ++j) seen.push_back(raw(i, j));
  };
  ppo.learn(2L * c.n_steps * c.n_envs * ranks());
  const std::vector<double> all = all_gather(seen);
  const Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, 3, Eigen::RowMajor>> rows(all.data(), Eigen::Index(all.size() / 3), 3);
  CHECK(rows.rows() == ranks() * (1 + 2 * c.n_steps) * c.n_envs);
  RunningMeanStd one_process(3);
  one_process.update(rows);
  const RunningMeanStd& merged = ppo.envs().obs_rms();
  CHECK(merged.count() == doctest::Approx(one_process.count()));
  CHECK((merged.mean() - one_process.mean()).norm() <= 1e-9 * (1 + one_process.mean().norm()));
  CHECK((merged.var() - one_process.var()).norm() <= 1e-9 * (1 + one_process.var().norm()));
}

TEST_CASE("MPI PPO: a checkpoint resumes with the same ranks bit-identically, and one process can load it") {
  mpi::World world;
  const algo::PpoConfig c = small_config();
  const long rollout = c.n_steps * c.n_envs * ranks();
  const auto dir = shared_temp_dir("spindle_test_mpi_ppo");
  const auto path = dir / "ppo.npz";
  using Head = noise::Gsde<float>;

  algo::Ppo<envs::Pendulum, Head> straight(envs::Pendulum{}, c);
  straight.distribute(world.shared());
  straight.learn(5 * rollout);

  algo::Ppo<envs::Pendulum, Head> first(envs::Pendulum{}, c);
  first.distribute(world.shared());
  first.learn(3 * rollout);
  first.save(path);
  algo::Ppo<envs::Pendulum, Head> resumed(envs::Pendulum{}, c);
  resumed.distribute(world.shared());
  CHECK(resumed.load(path) == algo::Resume::exact);
  resumed.learn(5 * rollout);
  CHECK(resumed.num_timesteps() == straight.num_timesteps());
  CHECK(resumed.policy().values() == straight.policy().values());
  CHECK(resumed.envs().obs_rms() == straight.envs().obs_rms());
  CHECK(resumed.rollout_buffer().all_observations() == straight.rollout_buffer().all_observations());

  // One process (no distribute) loads it to evaluate: the parameters and rank 0's statistics.
  if (rank() == 0) {
    algo::Ppo<envs::Pendulum, Head> single(envs::Pendulum{}, c);
    single.load(path);
    CHECK(single.policy().values() == first.policy().values());
    CHECK(single.envs().obs_rms() == first.envs().obs_rms());
    CHECK(std::isfinite(single.evaluate(1)));
    // A single process's checkpoint (one rank) cannot resume a two-rank run.
    single.save(dir / "single.npz");
  }
  MPI_Barrier(MPI_COMM_WORLD);
  algo::Ppo<envs::Pendulum, Head> wrong(envs::Pendulum{}, c);
  wrong.distribute(world.shared());
  CHECK_THROWS_WITH(wrong.load(dir / "single.npz"), doctest::Contains("was written by a run of 1 rank(s); this run has 2"));
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank() == 0) std::filesystem::remove_all(dir);
}

TEST_CASE("MPI PPO: ranks built with different configurations are refused on every rank") {
  mpi::World world;
  algo::PpoConfig c = small_config();
  if (rank() == 1) c.n_envs = 3;
  algo::Ppo<envs::Pendulum> ppo(envs::Pendulum{}, c);
  CHECK_THROWS_WITH(ppo.distribute(world.shared()), doctest::Contains("configurations"));
}

}  // namespace test_mpi_ppo
