// Saving a policy trained on an environment that cannot snapshot itself, and running it from a
// checkpoint without the training (deploy::Policy) — in a fresh process, bit for bit as predict.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <spindle/spindle.hpp>
#include <vector>

#include "alloc_counter.hpp"

// One namespace per file: the suites compile as unity builds (several files in one
// translation unit), where file-local helpers of the same name must not meet.
namespace test_deploy {

using namespace spindle;

namespace {

// A user's environment as the README shows it: no save_state/load_state.
struct Reacher {
  static constexpr int obs_dim = 4, act_dim = 2;
  Box<float> action_space{-1.0f, 1.0f, act_dim};
  Eigen::Vector2d position{0, 0}, target{0, 0};
  int t = 0;
  Eigen::Vector4f observation() const {
    return {float(position.x()), float(position.y()), float(target.x()), float(target.y())};
  }
  Eigen::Vector4f reset(Rng& rng) {
    position.setZero();
    target = {rng.uniform(-1.0, 1.0), rng.uniform(-1.0, 1.0)};
    t = 0;
    return observation();
  }
  Step<obs_dim> step(const Eigen::Vector2f& a) {
    position += 0.1 * a.cast<double>().cwiseMax(-1.0).cwiseMin(1.0);
    ++t;
    return {observation(), float(-(position - target).norm()), false, t >= 50};
  }
};
static_assert(check_environment<Reacher>());
static_assert(!SavableEnvironment<Reacher>);

std::filesystem::path temp(const char* name) { return std::filesystem::temp_directory_path() / name; }

algo::PpoConfig small_ppo() {
  algo::PpoConfig c;
  c.n_steps = 64;
  c.n_envs = 2;
  c.batch_size = 64;
  c.n_epochs = 2;
  c.policy_hidden = {16, 16};
  c.value_hidden = {16};
  c.normalize_observations = true;
  c.seed = 3;
  return c;
}

// Observations to compare actions on: raw, some far outside the normalisation's range.
std::vector<Eigen::VectorXf> probe_observations(Eigen::Index dim, int n) {
  Rng rng(77);
  std::vector<Eigen::VectorXf> out;
  for (int k = 0; k < n; ++k) {
    Eigen::VectorXf o(dim);
    for (auto& x : o) x = rng.uniform<float>(-3.0f, 3.0f) * (k % 5 == 0 ? 10.0f : 1.0f);
    out.push_back(o);
  }
  return out;
}

// Runs `produce` in a child process (a fresh address space: nothing shared with the trainer but
// the file) and returns the floats it wrote to a pipe.
template <class F>
std::vector<float> in_fresh_process(std::size_t count, F&& produce) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    int status = 0;
    try {
      const std::vector<float> values = produce();
      const auto bytes = values.size() * sizeof(float);
      status = ::write(fds[1], values.data(), bytes) == static_cast<ssize_t>(bytes) ? 0 : 2;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child: %s\n", e.what());
      status = 3;
    }
    ::close(fds[1]);
    ::_exit(status);
  }
  ::close(fds[1]);
  std::vector<float> values(count);
  std::size_t got = 0;
  while (got < count * sizeof(float)) {
    const ssize_t n = ::read(fds[0], reinterpret_cast<char*>(values.data()) + got, count * sizeof(float) - got);
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(got == count * sizeof(float));
  return values;
}

template <class Algo, class Head>
void check_deployed_matches_predict(Algo& trained, const std::filesystem::path& path, Eigen::Index obs_dim, Eigen::Index act_dim) {
  trained.save(path);
  const auto observations = probe_observations(obs_dim, 40);
  std::vector<float> expected;
  for (const auto& o : observations) {
    Eigen::VectorXf a(act_dim);
    trained.predict(o, a);
    expected.insert(expected.end(), a.data(), a.data() + act_dim);
  }
  const std::vector<float> deployed = in_fresh_process(expected.size(), [&] {
    deploy::Policy<Head> policy(path);
    std::vector<float> out;
    Eigen::VectorXf a(policy.action_size());
    for (const auto& o : observations) {
      policy.act(o, a);
      out.insert(out.end(), a.data(), a.data() + a.size());
    }
    return out;
  });
  REQUIRE(deployed.size() == expected.size());
  CHECK(std::memcmp(deployed.data(), expected.data(), expected.size() * sizeof(float)) == 0);
}

}  // namespace

TEST_CASE("PPO on an environment that cannot save its state: save, load (environments restart), train on") {
  const auto path = temp("spindle_test_deploy_ppo_nosnapshot.npz");
  algo::Ppo<Reacher> first(Reacher{}, small_ppo());
  first.learn(512);
  first.save(path);
  algo::Ppo<Reacher> resumed(Reacher{}, small_ppo());
  CHECK(resumed.load(path) == algo::Resume::environments_restarted);
  CHECK(resumed.policy().values() == first.policy().values());
  CHECK(resumed.num_timesteps() == first.num_timesteps());
  CHECK(resumed.envs().obs_rms().mean() == first.envs().obs_rms().mean());  // the normalisation came along
  CHECK(resumed.envs().obs_rms().count() == first.envs().obs_rms().count());
  Eigen::VectorXf a(2), b(2);
  const Eigen::Vector4f o(0.1f, -0.2f, 0.5f, 0.3f);
  first.predict(o, a);
  resumed.predict(o, b);
  CHECK(a == b);
  resumed.learn(1024);  // new episodes, from the checkpoint's own seed
  CHECK(resumed.num_timesteps() == 1024);
  // The same checkpoint resumes the same way twice.
  algo::Ppo<Reacher> again(Reacher{}, small_ppo());
  again.load(path);
  again.learn(1024);
  CHECK(again.policy().values() == resumed.policy().values());
  std::filesystem::remove(path);
}

TEST_CASE("SAC on an environment that cannot save its state: save, load, train on") {
  const auto path = temp("spindle_test_deploy_sac_nosnapshot.npz");
  algo::SacConfig c;
  c.actor_hidden = c.critic_hidden = {16, 16};
  c.learning_starts = 50;
  c.batch_size = 32;
  c.buffer_size = 1000;
  algo::Sac<Reacher> first(Reacher{}, c);
  first.learn(200);
  first.save(path);
  algo::Sac<Reacher> resumed(Reacher{}, c);
  CHECK(resumed.load(path) == algo::Resume::environments_restarted);
  resumed.learn(300);
  CHECK(resumed.num_timesteps() == 300);
  std::filesystem::remove(path);
}

TEST_CASE("A savable environment still resumes exactly") {
  const auto path = temp("spindle_test_deploy_exact.npz");
  algo::PpoConfig c = small_ppo();
  algo::Ppo<envs::Pendulum> first(envs::Pendulum{}, c);
  first.learn(256);
  first.save(path);
  algo::Ppo<envs::Pendulum> resumed(envs::Pendulum{}, c);
  CHECK(resumed.load(path) == algo::Resume::exact);
  std::filesystem::remove(path);
}

TEST_CASE("deploy::Policy acts as predict does, bit for bit, in a fresh process (PPO: Gaussian, Lattice, gSDE)") {
  {
    algo::Ppo<Reacher> ppo(Reacher{}, small_ppo());
    ppo.learn(512);
    check_deployed_matches_predict<decltype(ppo), noise::DiagGaussian<float>>(ppo, temp("spindle_test_deploy_diag.npz"), 4, 2);
  }
  {
    algo::Ppo<Reacher, noise::Lattice<float>> ppo(Reacher{}, small_ppo(), {.std_reg = 0.05, .squash_output = true});
    ppo.learn(512);
    check_deployed_matches_predict<decltype(ppo), noise::Lattice<float>>(ppo, temp("spindle_test_deploy_lattice.npz"), 4, 2);
  }
  {
    algo::PpoConfig c = small_ppo();
    c.normalize_observations = false;
    c.activation = autodiff::Activation::relu;
    algo::Ppo<envs::Pendulum, noise::Gsde<float>> ppo(envs::Pendulum{}, c, {.log_std_init = 0.0, .clip_mean = 2.0});
    ppo.learn(512);
    check_deployed_matches_predict<decltype(ppo), noise::Gsde<float>>(ppo, temp("spindle_test_deploy_gsde.npz"), 3, 1);
  }
}

TEST_CASE("deploy::Policy acts as SAC's predict does, bit for bit, in a fresh process") {
  algo::SacConfig c;
  c.actor_hidden = c.critic_hidden = {32, 32};
  c.learning_starts = 50;
  c.batch_size = 32;
  c.buffer_size = 1000;
  algo::Sac<envs::Pendulum> sac(envs::Pendulum{}, c);
  sac.learn(300);
  check_deployed_matches_predict<decltype(sac), noise::SquashedGaussian<float>>(sac, temp("spindle_test_deploy_sac.npz"), 3, 1);
}

TEST_CASE("deploy::Policy: sampled actions, no allocation per call, clear errors") {
  const auto path = temp("spindle_test_deploy_misc.npz");
  algo::Ppo<Reacher, noise::Lattice<float>> ppo(Reacher{}, small_ppo(), {.std_reg = 0.05});
  ppo.learn(256);
  ppo.save(path);
  deploy::Policy<noise::Lattice<float>> policy(path);
  CHECK(policy.algorithm() == "ppo");
  CHECK(policy.observation_size() == 4);
  CHECK(policy.action_size() == 2);
  CHECK(policy.normalization().enabled);

  // Sampling: the same generator state gives the same draws; draws spread around the mode.
  const Eigen::Vector4f o(0.2f, 0.1f, -0.4f, 0.6f);
  Eigen::Vector2f mode, a, b;
  policy.act(o, mode);
  Rng r1(5), r2(5);
  policy.reset_noise(r1);
  policy.sample(o, a, r1);
  deploy::Policy<noise::Lattice<float>> twin(path);
  twin.reset_noise(r2);
  twin.sample(o, b, r2);
  CHECK(a == b);
  double spread = 0;
  for (int k = 0; k < 50; ++k) {
    policy.reset_noise(r1);
    policy.sample(o, a, r1);
    spread += (a - mode).norm();
  }
  CHECK(spread > 0.0);

  // Warmed up, acting and sampling allocate nothing.
  policy.act(o, a);
  policy.sample(o, a, r1);
  const auto before = spindle_test::allocations();
  for (int k = 0; k < 20; ++k) {
    policy.act(o, a);
    policy.sample(o, a, r1);
  }
  CHECK(spindle_test::allocations() == before);

  // Errors name the file and the reason.
  CHECK_THROWS_WITH(deploy::Policy<noise::DiagGaussian<float>>{path},
                    doctest::Contains("was trained with the noise head Lattice<float>, not DiagGaussian<white, float>"));
  CHECK_THROWS_WITH(deploy::Policy<noise::Lattice<float>>{temp("spindle_no_such_policy.npz")},
                    doctest::Contains("spindle_no_such_policy.npz"));
  Eigen::Vector3f wrong(0, 0, 0);
  CHECK_THROWS_AS(policy.act(wrong, a), shape_error);
  io::Checkpoint bare;
  bare.put_scalar("x", 1.0);
  const auto bare_path = temp("spindle_test_deploy_bare.npz");
  bare.save(bare_path);
  CHECK_THROWS_WITH(deploy::Policy<noise::Lattice<float>>{bare_path}, doctest::Contains("holds no deployable policy"));
  std::filesystem::remove(bare_path);
  std::filesystem::remove(path);
}

}  // namespace test_deploy
