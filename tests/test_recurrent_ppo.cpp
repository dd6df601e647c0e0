// Recurrent PPO (sb3-contrib semantics): the sequences rebuilt for the update reproduce what the
// policy computed while acting, states carry and reset, one seed gives one run, checkpoints
// resume bit-identically, collecting allocates nothing once warmed up.
#include <doctest/doctest.h>

#include <filesystem>
#include <spindle/algo.hpp>
#include <spindle/envs.hpp>
#include <spindle/noise.hpp>

#include "alloc_counter.hpp"

// One namespace per file: the suites compile as unity builds (several files in one
// translation unit), where file-local helpers of the same name must not meet.
namespace test_recurrent_ppo {

using namespace spindle;
using envs::PendulumNoVel;

namespace {

algo::RecurrentPpoConfig small_config(std::uint64_t seed = 0) {
  algo::PpoConfig c;
  c.n_envs = 3;
  c.n_steps = 96;
  c.batch_size = 50;  // minibatches cut sequences in the middle: they must restart from the stored states
  c.n_epochs = 2;
  c.gamma = 0.9;
  c.learning_rate = 1e-3;
  c.policy_hidden = {16};
  c.value_hidden = {16};
  c.normalize_observations = true;
  c.seed = seed;
  return {.ppo = c, .lstm_hidden_size = 8};
}

}  // namespace

TEST_CASE("RecurrentPpo: the update's sequences reproduce the rollout's log-probabilities (ratio 1 before any step)") {
  for (bool critic_lstm : {true, false}) {
    CAPTURE(critic_lstm);
    algo::RecurrentPpoConfig c = small_config(4);
    c.ppo.learning_rate = 0.0;  // nothing moves: every ratio must be 1 up to float rounding,
    c.ppo.clip_range = 1e-5;    // so none may leave a clip range this narrow
    c.ppo.ortho_init = false;   // (a 0.01-gain action head would hide wrong states in tiny means)
    c.ppo.n_epochs = 3;
    c.enable_critic_lstm = critic_lstm;
    algo::RecurrentPpo<PendulumNoVel> ppo({}, c);
    ppo.learn(c.ppo.n_steps * c.ppo.n_envs * 3);  // episodes of 200 steps: the third rollout holds starts
    CHECK(ppo.last_update().approx_kl < 1e-6);
    CHECK(ppo.last_update().clip_fraction == 0.0);
    CHECK(ppo.last_update().gradient_steps == 3 * 6);  // ⌈288 / 50⌉ minibatches × 3 epochs
  }
  // One LSTM shared by actor and critic (sb3-contrib's shared_lstm).
  {
    algo::RecurrentPpoConfig c = small_config(4);
    c.ppo.learning_rate = 0.0;
    c.ppo.clip_range = 1e-5;
    c.ppo.ortho_init = false;
    c.enable_critic_lstm = false;
    c.shared_lstm = true;
    algo::RecurrentPpo<PendulumNoVel> ppo({}, c);
    ppo.learn(c.ppo.n_steps * c.ppo.n_envs * 3);
    CHECK(ppo.last_update().approx_kl < 1e-6);
    CHECK(ppo.last_update().clip_fraction == 0.0);
  }
  // Truncated BPTT: sequences also cut every 7 steps, each piece from its stored state.
  {
    algo::RecurrentPpoConfig c = small_config(4);
    c.ppo.learning_rate = 0.0;
    c.ppo.clip_range = 1e-5;
    c.ppo.ortho_init = false;
    c.max_sequence_length = 7;
    algo::RecurrentPpo<PendulumNoVel> ppo({}, c);
    ppo.learn(c.ppo.n_steps * c.ppo.n_envs * 3);
    CHECK(ppo.last_update().approx_kl < 1e-6);
    CHECK(ppo.last_update().clip_fraction == 0.0);
  }
  // A GRU instead of the LSTM.
  {
    algo::RecurrentPpoConfig c = small_config(6);
    c.ppo.learning_rate = 0.0;
    c.ppo.clip_range = 1e-5;
    c.ppo.ortho_init = false;
    c.cell = algo::RecurrentCell::gru;
    algo::RecurrentPpo<PendulumNoVel> gru({}, c);
    gru.learn(c.ppo.n_steps * c.ppo.n_envs * 3);
    CHECK(gru.actor_states().rows() == c.lstm_hidden_size);
    CHECK(gru.last_update().approx_kl < 1e-6);
    CHECK(gru.last_update().clip_fraction == 0.0);
  }
  // With gSDE (latent-dependent noise) as well.
  algo::RecurrentPpoConfig c = small_config(5);
  c.ppo.learning_rate = 0.0;
  c.ppo.clip_range = 1e-5;
  c.ppo.sde_sample_freq = 4;
  algo::RecurrentPpo<PendulumNoVel, noise::Gsde<float>> gsde({}, c, {.log_std_init = 0.0});
  gsde.learn(c.ppo.n_steps * c.ppo.n_envs * 3);
  CHECK(gsde.last_update().approx_kl < 1e-6);
  CHECK(gsde.last_update().clip_fraction == 0.0);
}

TEST_CASE("RecurrentPpo: with shared_lstm the value loss does not train the shared LSTM") {
  // The first update's advantages come from the same rollout whatever vf_coef is, so if the
  // critic's gradient is stopped at the LSTM's outputs, the actor's LSTM moves the same.
  auto lstm_after_one_update = [](double vf_coef) {
    algo::RecurrentPpoConfig c = small_config(8);
    c.enable_critic_lstm = false;
    c.shared_lstm = true;
    c.ppo.vf_coef = vf_coef;
    c.ppo.max_grad_norm = 1e9;  // no global clipping, which would couple the two losses
    algo::RecurrentPpo<PendulumNoVel> ppo({}, c);
    ppo.learn(c.ppo.n_steps * c.ppo.n_envs);
    std::vector<Eigen::MatrixXf> lstm, value;
    for (int i = 0; i < ppo.policy().count(); ++i) {
      const std::string& name = ppo.policy().slot(i).name;
      if (name.rfind("lstm_actor.", 0) == 0) lstm.emplace_back(ppo.policy().value(i));
      if (name.rfind("vf.", 0) == 0) value.emplace_back(ppo.policy().value(i));
    }
    return std::pair{lstm, value};
  };
  const auto [lstm_a, value_a] = lstm_after_one_update(0.5);
  const auto [lstm_b, value_b] = lstm_after_one_update(5.0);
  REQUIRE(lstm_a.size() >= 2);
  for (std::size_t i = 0; i < lstm_a.size(); ++i) CHECK(lstm_a[i] == lstm_b[i]);
  bool value_differs = false;  // ... while the value MLP did feel vf_coef
  for (std::size_t i = 0; i < value_a.size(); ++i) value_differs = value_differs || value_a[i] != value_b[i];
  CHECK(value_differs);
}

TEST_CASE("RecurrentPpo: the state carries information and resets at an episode start") {
  algo::RecurrentPpo<PendulumNoVel> ppo({}, small_config());
  ppo.learn(600);
  CHECK(ppo.actor_states().norm() > 0.0f);
  CHECK(ppo.critic_states().norm() > 0.0f);
  const Eigen::Vector2f o(0.3f, 0.9f), other(-0.8f, 0.1f);
  Eigen::Matrix<float, 1, 1> fresh, after_history, after_reset;
  algo::RecurrentState<float> s1, s2;
  ppo.predict(o, fresh, s1, true);
  for (int k = 0; k < 5; ++k) ppo.predict(other, after_history, s2, k == 0);
  ppo.predict(o, after_history, s2, false);
  CHECK(after_history(0) != fresh(0));  // the same observation after another history
  ppo.predict(o, after_reset, s2, true);
  CHECK(after_reset(0) == fresh(0));  // an episode start forgets the history
  CHECK(ppo.evaluate(2) == ppo.evaluate(2));
}

TEST_CASE("RecurrentPpo: one seed gives one run, a checkpoint resumes bit-identically") {
  const long rollout = 96 * 3;
  algo::RecurrentPpo<PendulumNoVel> a({}, small_config(7)), b({}, small_config(7));
  a.learn(2 * rollout);
  b.learn(2 * rollout);
  CHECK(a.policy().values() == b.policy().values());

  const auto path = std::filesystem::temp_directory_path() / "spindle_test_recurrent_ppo.npz";
  algo::RecurrentPpo<PendulumNoVel> straight({}, small_config(8)), first({}, small_config(8)), resumed({}, small_config(8));
  straight.learn(3 * rollout);
  first.learn(rollout);
  first.save(path);
  CHECK(resumed.load(path) == algo::Resume::exact);
  CHECK(resumed.actor_states() == first.actor_states());
  resumed.learn(3 * rollout);
  CHECK(resumed.policy().values() == straight.policy().values());
  CHECK(resumed.actor_states() == straight.actor_states());
  std::filesystem::remove(path);
}

TEST_CASE("RecurrentPpo: collecting a rollout allocates nothing once warmed up") {
  algo::RecurrentPpo<PendulumNoVel, noise::Gsde<float>> ppo({}, small_config(), {.log_std_init = 0.0});
  ppo.learn(96 * 3);  // one rollout and update
  std::size_t at_first = 0, at_last = 0;
  long seen = 0;
  ppo.hooks().on_step = [&](long) {
    ++seen;
    if (seen == 2) at_first = spindle_test::allocations();  // inside the second rollout
    if (seen == 95) at_last = spindle_test::allocations();
  };
  ppo.learn(96 * 3 * 2);
  CHECK(seen == 96);
  CHECK(at_last == at_first);
}

TEST_CASE("RecurrentPpo: bad configurations are clear errors") {
  algo::RecurrentPpoConfig c = small_config();
  c.lstm_hidden_size = 0;
  CHECK_THROWS_WITH_AS(algo::RecurrentPpo<PendulumNoVel>({}, c), doctest::Contains("lstm_hidden_size"), std::invalid_argument);
  c = small_config();
  c.ppo.share_network = true;
  CHECK_THROWS_WITH_AS(algo::RecurrentPpo<PendulumNoVel>({}, c), doctest::Contains("share_network"), std::invalid_argument);
  c = small_config();
  c.shared_lstm = true;  // with the critic's own LSTM still on
  CHECK_THROWS_WITH_AS(algo::RecurrentPpo<PendulumNoVel>({}, c), doctest::Contains("enable_critic_lstm = false"),
                       std::invalid_argument);
  c = small_config();
  c.max_sequence_length = c.ppo.n_steps + 1;
  CHECK_THROWS_WITH_AS(algo::RecurrentPpo<PendulumNoVel>({}, c),
                       doctest::Contains("max_sequence_length 97 is larger than n_steps 96"), std::invalid_argument);
  c.max_sequence_length = -1;
  CHECK_THROWS_WITH_AS(algo::RecurrentPpo<PendulumNoVel>({}, c), doctest::Contains("max_sequence_length must be"),
                       std::invalid_argument);
}

}  // namespace test_recurrent_ppo
