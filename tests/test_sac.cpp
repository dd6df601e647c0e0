// SAC: replay buffer mechanics, bootstrapping through truncation only, bad transitions.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <spindle/algo.hpp>
#include <spindle/envs.hpp>
#include <spindle/noise.hpp>

#include "alloc_counter.hpp"

// One namespace per file: the suites compile as unity builds (several files in one
// translation unit), where file-local helpers of the same name must not meet.
namespace test_sac {

using namespace spindle;

namespace {

// A one-step environment with a chosen reward and end flags, to see what SAC stores.
struct Scripted {
  static constexpr int obs_dim = 1, act_dim = 1;
  using Observation = Eigen::Matrix<float, 1, 1>;
  using Action = Eigen::Matrix<float, 1, 1>;
  float reward = 1.0f;
  int terminate_every = 3, truncate_every = 5;
  int t = 0;
  Box<float> space{-1.f, 1.f, 1};
  const Box<float>& action_space() const { return space; }
  Observation reset(Rng&) { return Observation::Constant(float(t)); }
  Step<1, float> step(const Action&) {
    ++t;
    Step<1, float> s;
    s.observation = Observation::Constant(float(t));
    s.reward = reward;
    s.terminated = t % terminate_every == 0;
    s.truncated = !s.terminated && t % truncate_every == 0;
    return s;
  }
};

}  // namespace

TEST_CASE("replay buffer: wraps around, keeps the newest transitions, samples only what is stored") {
  algo::ReplayBuffer<float> buffer(4, 2, 1);
  Rng rng(1);
  algo::ReplayBuffer<float>::Batch batch;
  CHECK_THROWS_AS(buffer.sample(3, rng, batch), std::logic_error);
  for (int i = 0; i < 6; ++i)
    buffer.add(Eigen::Vector2f(float(i), 0), Eigen::Matrix<float, 1, 1>(float(-i)), float(10 * i),
               Eigen::Vector2f(float(i + 1), 0), i % 2 == 1);
  CHECK(buffer.full());
  CHECK(buffer.size() == 4);
  CHECK(buffer.position() == 2);
  buffer.sample(256, rng, batch);
  for (Eigen::Index j = 0; j < 256; ++j) {
    const float o = batch.observations(0, j);
    CHECK(o >= 2);  // 0 and 1 were overwritten
    CHECK(batch.next_observations(0, j) == o + 1);
    CHECK(batch.actions(0, j) == -o);
    CHECK(batch.rewards(0, j) == 10 * o);
    CHECK(batch.terminated(0, j) == float(int(o) % 2 == 1));
  }
  CHECK_THROWS_AS(buffer.add(Eigen::Vector3f::Zero(), Eigen::Matrix<float, 1, 1>::Zero(), 0.f, Eigen::Vector2f::Zero(), false),
                  shape_error);
}

TEST_CASE("SAC stores the final observation and bootstraps through truncation, not termination") {
  algo::SacConfig c;
  c.learning_starts = 1000;  // random actions only: this checks the bookkeeping
  c.buffer_size = 64;
  c.actor_hidden = {8};
  c.critic_hidden = {8};
  algo::Sac<Scripted> sac(Scripted{}, c);
  sac.learn(30);
  auto& buffer = sac.replay_buffer();
  REQUIRE(buffer.size() == 30);
  algo::ReplayBuffer<float>::Batch b;
  buffer.resize(b, 30);
  int terminated = 0, truncated_kept = 0;
  for (std::size_t i = 0; i < 30; ++i) {
    buffer.copy(i, 0, b);
    const int t_next = static_cast<int>(b.next_observations(0, 0));
    CHECK(t_next == static_cast<int>(i) + 1);  // the final observation, not the reset one
    CHECK(b.terminated(0, 0) == float(t_next % 3 == 0));
    terminated += t_next % 3 == 0;
    truncated_kept += (t_next % 5 == 0 && t_next % 3 != 0);
  }
  CHECK(terminated == 10);
  CHECK(truncated_kept == 4);
}

TEST_CASE("SAC bad transitions: a NaN reward throws with the step number, or is dropped and counted") {
  algo::SacConfig c;
  c.learning_starts = 1000;
  c.buffer_size = 64;
  c.actor_hidden = {8};
  c.critic_hidden = {8};
  Scripted bad;
  bad.reward = std::nanf("");
  algo::Sac<Scripted> throwing(bad, c);
  try {
    throwing.learn(5);
    FAIL("expected non_finite_error");
  } catch (const non_finite_error& e) {
    CHECK(std::string(e.what()).find("environment step 1") != std::string::npos);
  }
  c.on_bad_transition = algo::BadTransition::drop_and_count;
  algo::Sac<Scripted> dropping(bad, c);
  dropping.learn(5);
  CHECK(dropping.dropped_transitions() == 5);
  CHECK(dropping.replay_buffer().size() == 0);
}


TEST_CASE("SAC checkpoint: a resumed run continues bit-identically, and a corrupt file is a clear error") {
  using envs::Pendulum;
  algo::SacConfig c;
  c.learning_starts = 50;
  c.buffer_size = 300;  // wraps around before the checkpoint
  c.batch_size = 32;
  c.actor_hidden = {16, 16};
  c.critic_hidden = {16, 16};
  c.n_envs = 2;
  c.seed = 7;
  const auto dir = std::filesystem::temp_directory_path() / "spindle_test_sac_checkpoint";
  std::filesystem::create_directories(dir);
  const auto path = dir / "sac.npz";

  algo::Sac<Pendulum> straight(Pendulum{}, c);
  straight.learn(900);

  algo::Sac<Pendulum> first(Pendulum{}, c);
  first.learn(451);  // mid-episode: Pendulum episodes are 200 steps
  first.save(path);
  algo::Sac<Pendulum> resumed(Pendulum{}, c);
  resumed.load(path);
  CHECK(resumed.num_timesteps() == first.num_timesteps());
  resumed.learn(900);

  CHECK(resumed.num_timesteps() == straight.num_timesteps());
  CHECK(resumed.actor().values() == straight.actor().values());
  CHECK(resumed.critic().values() == straight.critic().values());
  CHECK(resumed.critic_target().values() == straight.critic_target().values());
  CHECK(resumed.ent_coef() == straight.ent_coef());

  // A truncated file: the error names it, and the run it was loaded into is untouched.
  {
    std::ifstream in(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream out(dir / "broken.npz", std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size() / 2));
  }
  const auto before = resumed.actor().values();
  try {
    resumed.load(dir / "broken.npz");
    FAIL("expected an error");
  } catch (const std::exception& e) {
    CHECK(std::string(e.what()).find("broken.npz") != std::string::npos);
  }
  CHECK(resumed.actor().values() == before);
  // Another configuration: refused, nothing changes.
  algo::SacConfig other = c;
  other.actor_hidden = {8, 8};
  algo::Sac<Pendulum> mismatched(Pendulum{}, other);
  CHECK_THROWS_AS(mismatched.load(path), shape_error);
  std::filesystem::remove_all(dir);
}

namespace {
template <class Head>
void check_sac_allocation_free() {
  algo::SacConfig c;
  c.learning_starts = 100;
  c.buffer_size = 2000;
  c.batch_size = 64;
  c.actor_hidden = {16, 16};
  c.critic_hidden = {16, 16};
  c.n_envs = 2;
  c.sde_sample_freq = 8;
  algo::Sac<envs::Pendulum, Head> sac(envs::Pendulum{}, c);
  sac.learn(600);  // sizes every buffer, tape and batch
  const auto before = spindle_test::allocations();
  sac.learn(1400);  // acting, updates, episode ends (200 steps) and noise resamples
  CHECK(spindle_test::allocations() == before);
  CHECK(sac.num_timesteps() == 1400);
}
}  // namespace

TEST_CASE("SAC acts and updates without heap allocations once warmed up") {
  check_sac_allocation_free<noise::SquashedGaussian<float>>();
  check_sac_allocation_free<noise::Gsde<float>>();
  check_sac_allocation_free<noise::Lattice<float>>();
}

}  // namespace test_sac
