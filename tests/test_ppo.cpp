// PPO: GAE by hand (truncation and termination), minibatch coverage, target_kl, schedules,
// bad input, checkpoints.
#include <doctest/doctest.h>

#include <Eigen/SVD>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <spindle/algo.hpp>
#include <spindle/envs.hpp>
#include <spindle/noise.hpp>

#include "alloc_counter.hpp"

// One namespace per file: the suites compile as unity builds (several files in one
// translation unit), where file-local helpers of the same name must not meet.
namespace test_ppo {

using namespace spindle;

namespace {

// An environment whose observation counts its steps; chosen reward and end flags.
struct Counter {
  static constexpr int obs_dim = 1, act_dim = 1;
  using Observation = Eigen::Matrix<float, 1, 1>;
  using Action = Eigen::Matrix<float, 1, 1>;
  float reward = 1.0f;
  int terminate_every = 7, truncate_every = 5;
  int bad_at = -1;  // the step whose reward is NaN (−1: none)
  int t = 0;
  Box<float> space{-1.f, 1.f, 1};
  const Box<float>& action_space() const { return space; }
  Observation reset(Rng&) { return Observation::Constant(float(t % 10)); }
  Step<1, float> step(const Action&) {
    ++t;
    Step<1, float> s;
    s.observation = Observation::Constant(float(t % 10));
    s.reward = t == bad_at ? std::nanf("") : reward;
    s.terminated = t % terminate_every == 0;
    s.truncated = !s.terminated && t % truncate_every == 0;
    return s;
  }
};

using Array2 = xt::xtensor<double, 2>;
Array2 column_pair(std::array<double, 4> a, std::array<double, 4> b) {
  Array2 x = xt::zeros<double>(std::array<std::size_t, 2>{4, 2});
  for (std::size_t t = 0; t < 4; ++t) {
    x(t, 0) = a[t];
    x(t, 1) = b[t];
  }
  return x;
}

}  // namespace

TEST_CASE("GAE against a hand-computed example with a truncation and a termination") {
  // γ = 0.9, λ = 0.8. Environment 0: step 1 is truncated (V(final obs) = 3 → reward 2 + 0.9·3),
  // step 3 terminates. Environment 1: no episode end; bootstraps from V(next obs) = 10.
  const double gamma = 0.9, lambda = 0.8;
  algo::RolloutBuffer<double> buffer(4, 2, 1, 1);
  buffer.rewards() = column_pair({1, 2, 3, 4}, {0, 0, 0, 1});
  buffer.values() = column_pair({0.5, 1.0, 1.5, 2.0}, {0, 0, 0, 0});
  buffer.episode_starts() = column_pair({1, 0, 1, 0}, {0, 0, 0, 0});
  buffer.add_truncation(1, 0, Eigen::Matrix<double, 1, 1>::Constant(42.0));
  CHECK(buffer.truncated_observations()(0, 0) == 42.0);
  buffer.bootstrap_truncated(Eigen::RowVectorXd::Constant(1, 3.0), gamma);
  CHECK(buffer.rewards()(1, 0) == doctest::Approx(4.7));

  const Eigen::Vector2d last_values(2.5, 10.0), last_dones(1.0, 0.0);
  algo::compute_gae(buffer.rewards(), buffer.values(), buffer.episode_starts(), buffer.valid(), last_values, last_dones,
                    gamma, lambda, buffer.advantages(), buffer.returns());
  // By hand, backwards: δ_t = r_t + γ V_{t+1} (1 − start_{t+1}) − V_t, A_t = δ_t + γλ (1 − start_{t+1}) A_{t+1}.
  const double expected0[4] = {4.064, 3.7, 4.74, 2.0};
  const double expected1[4] = {3.73248, 5.184, 7.2, 10.0};
  for (std::size_t t = 0; t < 4; ++t) {
    CAPTURE(t);
    CHECK(buffer.advantages()(t, 0) == doctest::Approx(expected0[t]));
    CHECK(buffer.advantages()(t, 1) == doctest::Approx(expected1[t]));
    CHECK(buffer.returns()(t, 0) == doctest::Approx(expected0[t] + buffer.values()(t, 0)));
  }

  // An invalid (dropped) sample gets no advantage and cuts its predecessor's λ-chain.
  buffer.valid()(3, 1) = 0;
  algo::compute_gae(buffer.rewards(), buffer.values(), buffer.episode_starts(), buffer.valid(), last_values, last_dones,
                    gamma, lambda, buffer.advantages(), buffer.returns());
  CHECK(buffer.advantages()(3, 1) == 0.0);
  CHECK(buffer.advantages()(2, 1) == 0.0);  // δ_2 = 0 and nothing flows back from step 3
  CHECK(buffer.advantages()(0, 0) == doctest::Approx(4.064));
}

TEST_CASE("rollout minibatches cover every valid sample exactly once per epoch") {
  algo::RolloutBuffer<float> buffer(6, 3, 2, 1);
  for (Eigen::Index t = 0; t < 6; ++t)
    for (Eigen::Index i = 0; i < 3; ++i) {
      buffer.observations_at(t)(0, i) = float(t * 3 + i);
      buffer.observations_at(t)(1, i) = -float(t * 3 + i);
    }
  buffer.valid()(2, 1) = 0;  // sample 7 is left out
  buffer.collect_valid_indices();
  Rng rng(3);
  algo::RolloutBuffer<float>::Minibatch mb;
  for (int epoch = 0; epoch < 3; ++epoch) {
    buffer.shuffle_valid(rng);
    std::multiset<int> seen;
    const auto idx = buffer.valid_indices();
    for (std::size_t start = 0; start < idx.size(); start += 5) {
      buffer.gather(idx.subspan(start, std::min<std::size_t>(5, idx.size() - start)), mb);
      for (Eigen::Index b = 0; b < mb.size(); ++b) {
        CHECK(mb.observations(1, b) == -mb.observations(0, b));
        seen.insert(int(mb.observations(0, b)));
      }
    }
    CHECK(seen.size() == 17);
    for (int k = 0; k < 18; ++k) CHECK(seen.count(k) == (k == 7 ? 0u : 1u));
  }
}

TEST_CASE("PPO takes n_epochs × ceil(samples / batch_size) gradient steps, target_kl stops early") {
  algo::PpoConfig c;
  c.n_steps = 8;
  c.n_envs = 2;
  c.batch_size = 5;
  c.n_epochs = 3;
  c.policy_hidden = {8};
  c.value_hidden = {8};
  algo::Ppo<Counter> ppo(Counter{}, c);
  std::vector<algo::PpoUpdate> updates;
  ppo.hooks().on_update = [&](const algo::PpoUpdate& u) { updates.push_back(u); };
  ppo.learn(16);
  REQUIRE(updates.size() == 1);
  CHECK(updates[0].gradient_steps == 12);  // 3 epochs × 4 minibatches (5, 5, 5, 1)
  CHECK(ppo.num_updates() == 12);
  CHECK_FALSE(updates[0].stopped_early);

  c.target_kl = 1e-12;
  c.learning_rate = 1e-2;
  algo::Ppo<Counter> stopping(Counter{}, c);
  stopping.learn(16);
  // The first minibatch sees ratio 1 (KL 0) and steps; the second sees the moved policy and stops.
  CHECK(stopping.last_update().stopped_early);
  CHECK(stopping.last_update().gradient_steps == 1);
  CHECK(stopping.num_updates() == 1);
}

TEST_CASE("PPO schedules: linear learning rate and clip range follow progress remaining") {
  const auto lr = algo::Schedule::linear(1e-3);
  CHECK(lr(1.0) == doctest::Approx(1e-3));
  CHECK(lr(0.25) == doctest::Approx(2.5e-4));
  CHECK(algo::Schedule(0.2)(0.1) == 0.2);
  algo::PpoConfig c;
  c.n_steps = 4;
  c.n_envs = 1;
  c.batch_size = 4;
  c.n_epochs = 1;
  c.policy_hidden = {4};
  c.value_hidden = {4};
  c.learning_rate = algo::Schedule::linear(1e-3);
  c.clip_range = algo::Schedule::linear(0.2, 0.1);
  algo::Ppo<Counter> ppo(Counter{}, c);
  std::vector<algo::PpoUpdate> u;
  ppo.hooks().on_update = [&](const algo::PpoUpdate& x) { u.push_back(x); };
  ppo.learn(16);
  REQUIRE(u.size() == 4);
  for (std::size_t k = 0; k < 4; ++k) {
    const double remaining = 1.0 - double(4 * (k + 1)) / 16.0;  // SB3 updates progress after collecting
    CHECK(u[k].learning_rate == doctest::Approx(1e-3 * remaining));
    CHECK(u[k].clip_range == doctest::Approx(0.1 + 0.1 * remaining));
  }
  CHECK(ppo.optimizer().learning_rate() == doctest::Approx(0.0));
}

TEST_CASE("PPO bad transitions: a NaN reward throws with the step number, or is dropped and counted") {
  algo::PpoConfig c;
  c.n_steps = 16;
  c.batch_size = 8;
  c.policy_hidden = {8};
  c.value_hidden = {8};
  c.normalize_observations = true;
  c.normalize_rewards = true;
  Counter bad;
  bad.bad_at = 3;
  algo::Ppo<Counter> throwing(bad, c);
  try {
    throwing.learn(16);
    FAIL("expected non_finite_error");
  } catch (const non_finite_error& e) {
    CHECK(std::string(e.what()).find("environment step 3") != std::string::npos);
  }
  c.on_bad_transition = algo::BadTransition::drop_and_count;
  algo::Ppo<Counter> dropping(bad, c);
  dropping.learn(32);
  CHECK(dropping.dropped_transitions() == 1);
  CHECK(dropping.policy().values().allFinite());
  CHECK(std::isfinite(dropping.envs().ret_rms().var()(0)));
  CHECK(std::isfinite(dropping.last_update().value_loss));
}

TEST_CASE("PPO rejects a nonsensical configuration with a clear message") {
  algo::PpoConfig c;
  c.batch_size = 0;
  CHECK_THROWS_WITH_AS(algo::Ppo<Counter>(Counter{}, c), doctest::Contains("batch_size"), std::invalid_argument);
  c = {};
  c.policy_hidden = {};
  CHECK_THROWS_AS(algo::Ppo<Counter>(Counter{}, c), std::invalid_argument);
}

TEST_CASE("PPO with a shared network trains both heads from one trunk") {
  algo::PpoConfig c;
  c.n_steps = 32;
  c.n_envs = 2;
  c.batch_size = 16;
  c.policy_hidden = {8, 8};
  c.share_network = true;
  algo::Ppo<envs::Pendulum> ppo(envs::Pendulum{}, c);
  auto has = [&](const std::string& name) {
    const auto& slots = ppo.policy().slots();
    return std::any_of(slots.begin(), slots.end(), [&](const auto& s) { return s.name == name; });
  };
  CHECK(has("value.weight"));
  CHECK(has("pi.layer0.weight"));
  CHECK_FALSE(has("vf.layer0.weight"));
  const Eigen::VectorXf before = ppo.policy().values();
  ppo.learn(64);
  CHECK((ppo.policy().values() - before).norm() > 0);
  CHECK(ppo.policy().values().allFinite());
}

TEST_CASE("PPO is bit-identical for one seed, and a resumed run continues bit-identically") {
  using envs::Pendulum;
  algo::PpoConfig c;
  c.n_steps = 64;
  c.n_envs = 2;
  c.batch_size = 32;
  c.n_epochs = 2;
  c.policy_hidden = {16, 16};
  c.value_hidden = {16, 16};
  c.normalize_observations = true;
  c.normalize_rewards = true;
  c.sde_sample_freq = 4;
  c.seed = 11;
  const auto dir = std::filesystem::temp_directory_path() / "spindle_test_ppo_checkpoint";
  std::filesystem::create_directories(dir);
  const auto path = dir / "ppo.npz";
  using Head = noise::Gsde<float>;

  algo::Ppo<Pendulum, Head> straight(Pendulum{}, c);
  straight.learn(640);  // 5 rollouts; Pendulum episodes are 200 steps, so the save is mid-episode
  algo::Ppo<Pendulum, Head> again(Pendulum{}, c);
  again.learn(640);
  CHECK(again.policy().values() == straight.policy().values());

  algo::Ppo<Pendulum, Head> first(Pendulum{}, c);
  first.learn(384);
  first.save(path);
  algo::Ppo<Pendulum, Head> resumed(Pendulum{}, c);
  resumed.load(path);
  CHECK(resumed.num_timesteps() == 384);
  resumed.learn(640);
  CHECK(resumed.num_timesteps() == straight.num_timesteps());
  CHECK(resumed.policy().values() == straight.policy().values());
  CHECK(resumed.envs().obs_rms() == straight.envs().obs_rms());
  CHECK(resumed.envs().ret_rms() == straight.envs().ret_rms());
  CHECK(resumed.evaluate(2) == straight.evaluate(2));

  // A truncated file: the error names it, and the run it was loaded into is untouched.
  {
    std::ifstream in(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream out(dir / "broken.npz", std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size() / 2));
  }
  const Eigen::VectorXf before = resumed.policy().values();
  try {
    resumed.load(dir / "broken.npz");
    FAIL("expected an error");
  } catch (const std::exception& e) {
    CHECK(std::string(e.what()).find("broken.npz") != std::string::npos);
  }
  CHECK(resumed.policy().values() == before);
  algo::PpoConfig other = c;
  other.n_envs = 3;  // the environments' state does not fit
  algo::Ppo<Pendulum, Head> mismatched(Pendulum{}, other);
  CHECK_THROWS_WITH(mismatched.load(path), doctest::Contains("ppo.npz"));
  std::filesystem::remove_all(dir);
}

namespace {
template <class Head>
void check_ppo_allocation_free(long sde_sample_freq = 8) {
  algo::PpoConfig c;
  c.n_steps = 64;
  c.n_envs = 3;
  c.batch_size = 50;  // 192 samples: a short last minibatch every epoch
  c.n_epochs = 2;
  c.policy_hidden = {16, 16};
  c.value_hidden = {16, 16};
  c.normalize_observations = true;
  c.normalize_rewards = true;
  c.sde_sample_freq = sde_sample_freq;
  algo::Ppo<envs::Pendulum, Head> ppo(envs::Pendulum{}, c);
  ppo.learn(2 * 192);  // sizes every buffer, tape and minibatch
  const auto before = spindle_test::allocations();
  ppo.learn(6 * 192);  // four more rollouts and updates, with episode ends (200 steps)
  CHECK(spindle_test::allocations() == before);
  CHECK(ppo.num_timesteps() == 6 * 192);
}
}  // namespace

TEST_CASE("PPO collects and updates without heap allocations once warmed up") {
  check_ppo_allocation_free<noise::Gsde<float>>();
  check_ppo_allocation_free<noise::DiagGaussian<float>>();
  check_ppo_allocation_free<noise::Lattice<float>>();
  check_ppo_allocation_free<noise::Lattice<float>>(1);  // single-use resampling
}

namespace {
/// 17 one-dimensional reaches side by side (x' = clamp(x + 0.2a, ±2), reward −‖x'‖²/17, 32 steps): as many
/// actions as put Lattice's covariance past the small factors, on its joint route.
struct WideReach {
  static constexpr int obs_dim = 17, act_dim = 17;
  using Vector = Eigen::Matrix<float, 17, 1>;
  Box<float> action_space{-1.0f, 1.0f, 17};
  Vector x = Vector::Zero();
  int t = 0;
  Vector reset(Rng& rng) {
    for (Eigen::Index i = 0; i < 17; ++i) x(i) = rng.uniform<float>(-1.0f, 1.0f);
    t = 0;
    return x;
  }
  Step<17> step(const Vector& a) {
    ++t;
    x = (x + 0.2f * a).cwiseMax(-2.0f).cwiseMin(2.0f);
    return {x, -x.squaredNorm() / 17.0f, false, t >= 32};
  }
  void save_state(StateWords& out) const {  // a checkpoint resumes mid-episode
    for (Eigen::Index i = 0; i < 17; ++i) put_word(out, double(x(i)));
    put_word(out, std::int64_t{t});
  }
  void load_state(StateReader& in) {
    for (Eigen::Index i = 0; i < 17; ++i) x(i) = float(in.real());
    t = static_cast<int>(in.integer());
  }
};
}  // namespace

TEST_CASE("PPO with Lattice past the small factors: a rollout's log-probs in one pass after it, bit-identical per seed and on resume, allocation-free") {
  // A latent of 64 keeps Lattice on the variances route, not the packed one (lattice_prefers_packed).
  const algo::PpoConfig c{.n_steps = 16, .batch_size = 32, .n_epochs = 2, .sde_sample_freq = 4, .policy_hidden = {64, 64},
                          .value_hidden = {16, 16}, .normalize_observations = true, .n_envs = 4, .seed = 5};
  using P = algo::Ppo<WideReach, noise::Lattice<float>>;
  P straight(WideReach{}, c);
  REQUIRE(straight.head().rollout_log_probs_afterwards(c.n_steps * c.n_envs));
  // The recorded log-probs are those of the actions taken under the acting parameters: recomputed
  // step by step (4 environments at a time, as acting would) they agree to rounding.
  double worst = 0;
  int rollouts = 0;
  straight.hooks().on_rollout = [&](algo::RolloutBuffer<float>& b) {
    ++rollouts;
    autodiff::Tape<float> t;
    t.set_grad_enabled(false);
    for (Eigen::Index s = 0; s < b.n_steps(); ++s) {
      t.clear();
      Eigen::MatrixXf obs = b.all_observations().middleCols(s * c.n_envs, c.n_envs);
      Eigen::MatrixXf act = b.all_actions().middleCols(s * c.n_envs, c.n_envs);
      const auto z = straight.actor_network()(straight.policy(), policy::Inputs<float>{.observation = t.constant(obs)});
      const auto logp = straight.head().log_prob(straight.policy(), z, t.constant(act));
      for (Eigen::Index i = 0; i < c.n_envs; ++i) {
        const double recorded = b.log_probs()(static_cast<std::size_t>(s), static_cast<std::size_t>(i));
        worst = std::max(worst, std::abs(recorded - logp.value()(0, i)) / (1 + std::abs(recorded)));
      }
    }
  };
  straight.learn(4 * 64);
  CHECK(rollouts == 4);
  CHECK(worst < 1e-4);
  P again(WideReach{}, c);
  again.learn(4 * 64);
  CHECK(again.policy().values() == straight.policy().values());

  const auto dir = std::filesystem::temp_directory_path() / "spindle_test_ppo_wide_lattice";
  std::filesystem::create_directories(dir);
  P first(WideReach{}, c);
  first.learn(2 * 64);
  first.save(dir / "ppo.npz");
  P resumed(WideReach{}, c);
  resumed.load(dir / "ppo.npz");
  resumed.learn(4 * 64);
  CHECK(resumed.policy().values() == straight.policy().values());
  std::filesystem::remove_all(dir);

  P warm(WideReach{}, c);
  warm.learn(2 * 64);
  const auto before = spindle_test::allocations();
  warm.learn(5 * 64);
  CHECK(spindle_test::allocations() == before);
}

TEST_CASE("PPO adds γ V(final observation) to truncated rewards, not to terminated ones") {
  algo::PpoConfig c;
  c.n_steps = 10;
  c.n_envs = 1;
  c.batch_size = 10;
  c.n_epochs = 1;
  c.gamma = 0.5;
  c.learning_rate = 0.0;  // the value net stays as it was during the rollout
  c.policy_hidden = {8};
  c.value_hidden = {8};
  algo::Ppo<Counter> ppo(Counter{}, c);  // steps 5 and 10 truncate, step 7 terminates
  ppo.learn(10);
  auto& rewards = ppo.rollout_buffer().rewards();
  Eigen::MatrixXf final_obs(1, 1);
  final_obs(0, 0) = 5.0f;  // the observation after step 5 (Counter observes t mod 10)
  const float v5 = ppo.predict_values(final_obs)(0, 0);
  CHECK(rewards(4, 0) == doctest::Approx(1.0f + 0.5f * v5));
  CHECK(rewards(6, 0) == 1.0f);  // step 7 terminated: nothing added
  CHECK(rewards(5, 0) == 1.0f);
  final_obs(0, 0) = 0.0f;  // after step 10
  CHECK(rewards(9, 0) == doctest::Approx(1.0f + 0.5f * ppo.predict_values(final_obs)(0, 0)));
  CHECK(ppo.rollout_buffer().episode_starts()(5, 0) == 1.0f);  // step 6 began an episode
  CHECK(ppo.rollout_buffer().episode_starts()(7, 0) == 1.0f);
}

TEST_CASE("PPO initialises as SB3: orthogonal layers, action head gain 0.01, zero biases") {
  algo::PpoConfig c;
  c.policy_hidden = {16, 16};
  c.value_hidden = {16, 16};
  algo::Ppo<envs::Pendulum> ppo(envs::Pendulum{}, c);
  auto& p = ppo.policy();
  for (int i = 0; i < p.count(); ++i) {
    const auto& s = p.slot(i);
    CAPTURE(s.name);
    const Eigen::MatrixXf w = p.value(i);
    if (s.name.ends_with(".bias")) {
      CHECK(w.norm() == 0.0f);
    } else if (s.name.ends_with(".weight")) {
      // orthogonal: the singular values all equal the gain
      const double gain = s.name == "action.weight" ? 0.01 : s.name == "vf.layer2.weight" ? 1.0 : std::sqrt(2.0);
      const Eigen::VectorXf sv = Eigen::JacobiSVD<Eigen::MatrixXf>(w).singularValues();
      CHECK(sv.maxCoeff() == doctest::Approx(gain).epsilon(1e-4));
      CHECK(sv.minCoeff() == doctest::Approx(gain).epsilon(1e-4));
    }
  }
}

}  // namespace test_ppo
