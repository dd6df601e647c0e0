// Network architectures as template parameters (policy/): the context store that rebuilds
// history windows, the default MLP path, HistoryMlp and the Oracle / privileged critic in PPO,
// privileged information reaching only privileged networks, resume, allocations, bad input.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <vector>

#include <spindle/algo.hpp>
#include <spindle/envs.hpp>
#include <spindle/noise.hpp>
#include <spindle/policy.hpp>

#include "alloc_counter.hpp"
#include "hidden_tasks.hpp"
#include "parameter_gradcheck.hpp"

// One namespace per file: the suites compile as unity builds (several files in one
// translation unit), where file-local helpers of the same name must not meet.
namespace test_policy {

using namespace spindle;
using spindle_test::HiddenGain;
using spindle_test::HiddenTarget;

static_assert(!PrivilegedEnvironment<envs::Pendulum>);

namespace {

/// An MLP that fails the test if it is handed privileged values it did not ask for (or misses them).
template <bool Privileged>
struct Spy {
  static constexpr bool privileged = Privileged;
  struct Config {};
  nn::MlpStack mlp;
  template <class S>
  static Spy create(nn::Parameters<S>& p, const policy::Build& b, const Config&, Rng& rng) {
    return {nn::MlpStack::create(p, b.prefix, b.mlp(b.shapes.observation + (Privileged ? b.shapes.privileged : 0)), rng)};
  }
  template <class S>
  autodiff::Var<S> operator()(nn::Parameters<S>& p, const policy::Inputs<S>& in) const {
    REQUIRE((in.privileged.tape != nullptr) == Privileged);
    return mlp(p, Privileged ? autodiff::concat_rows(in.observation, in.privileged) : in.observation);
  }
};
static_assert(policy::Network<Spy<false>, float>);

algo::PpoConfig small_config(std::uint64_t seed = 3) {
  algo::PpoConfig c;
  c.n_steps = 48;  // Pendulum's 200-step episodes cross rollouts and are truncated inside them
  c.n_envs = 3;
  c.batch_size = 36;
  c.n_epochs = 2;
  c.policy_hidden = {16, 16};
  c.value_hidden = {16, 16};
  c.normalize_observations = true;
  c.seed = seed;
  return c;
}

}  // namespace

TEST_CASE("Rollout windows rebuilt from the timeline equal the windows acted on, zero before each episode start") {
  const policy::Shapes shapes{2, 1, 0};
  const policy::ContextNeeds needs{.history = 3, .previous_action = true};
  const Eigen::Index n_envs = 2, n_steps = 4;
  policy::LiveContext<double> live(n_envs, shapes, needs);
  policy::RolloutContext<double> store(n_steps, n_envs, shapes, needs);
  Rng rng(7, 0);
  double counter = 1;
  std::vector<double> starts{1, 1};
  for (int rollout = 0; rollout < 3; ++rollout) {
    store.start_rollout(live);
    std::vector<Eigen::MatrixXd> acted;  // the live windows, step by step
    for (Eigen::Index s = 0; s < n_steps; ++s) {
      for (Eigen::Index i = 0; i < n_envs; ++i) {
        if (starts[static_cast<std::size_t>(i)] != 0) live.reset(i);
        Eigen::Vector2d obs(counter, -counter);
        counter += 1;
        live.observe(i, obs);
      }
      store.record(s, live, starts);
      acted.push_back(live.window());
      for (Eigen::Index i = 0; i < n_envs; ++i) {
        live.acted(i, Eigen::Matrix<double, 1, 1>::Constant(0.01 * counter + static_cast<double>(i)));
        starts[static_cast<std::size_t>(i)] = rng.uniform<double>(0, 1) < 0.3 ? 1 : 0;
      }
    }
    std::vector<Eigen::Index> all(static_cast<std::size_t>(n_steps * n_envs));
    for (std::size_t k = 0; k < all.size(); ++k) all[k] = static_cast<Eigen::Index>(all.size() - 1 - k);  // any order
    policy::RolloutContext<double>::Batch batch;
    store.gather(all, batch);
    for (std::size_t b = 0; b < all.size(); ++b) {
      const Eigen::Index k = all[b], s = k / n_envs, i = k % n_envs;
      CAPTURE(rollout);
      CAPTURE(k);
      CHECK(batch.history.col(static_cast<Eigen::Index>(b)) == acted[static_cast<std::size_t>(s)].col(i));
      // the previous action is the newest entry's action part
      CHECK(batch.previous_action(0, static_cast<Eigen::Index>(b)) == acted[static_cast<std::size_t>(s)](8, i));
    }
  }
  // A window right after a reset holds the observation and zeros only.
  live.reset(0);
  live.observe(0, Eigen::Vector2d(5, 6));
  Eigen::VectorXd expected = Eigen::VectorXd::Zero(9);
  expected(6) = 5;
  expected(7) = 6;
  CHECK(live.window().col(0) == expected);
}

TEST_CASE("HistoryMlp, Tcn and Oracle policies in PPO act on the windows and privileged values the update sees") {
  // With a zero learning rate the update's log-probabilities must equal the rollout's: every
  // rebuilt window, previous action and privileged value is the one acted on.
  algo::PpoConfig c = small_config();
  c.learning_rate = 0.0;
  c.clip_range = 1e-4;
  c.normalize_observations = false;
  {
    algo::Ppo<envs::Pendulum, noise::Gsde<float>, policy::HistoryMlp, policy::HistoryMlp> ppo({}, c, {}, {.history = 5},
                                                                                             {.history = 3});
    for (int r = 0; r < 6; ++r) {
      ppo.learn(static_cast<long>((r + 1) * c.n_steps * c.n_envs));
      CHECK(ppo.last_update().clip_fraction == 0.0);
      CHECK(std::abs(ppo.last_update().approx_kl) < 1e-9);
    }
  }
  {
    algo::Ppo<HiddenGain, noise::DiagGaussian<float>, policy::Tcn, policy::PrivilegedCritic> ppo(
        {}, c, {}, {.history = 6, .step_hidden = {8}, .step_features = 4, .filters = 4, .convolutions = {{3, 2}, {2, 1}}},
        {.encoder_hidden = {8}});
    for (int r = 0; r < 4; ++r) {
      ppo.learn(static_cast<long>((r + 1) * c.n_steps * c.n_envs));
      CHECK(ppo.last_update().clip_fraction == 0.0);
      CHECK(std::abs(ppo.last_update().approx_kl) < 1e-9);
    }
  }
  {
    algo::Ppo<HiddenTarget, noise::DiagGaussian<float>, policy::Oracle, policy::PrivilegedCritic> ppo(
        {}, c, {}, {.encoder_hidden = {8}}, {.encoder_hidden = {8}});
    for (int r = 0; r < 4; ++r) {
      ppo.learn(static_cast<long>((r + 1) * c.n_steps * c.n_envs));
      CHECK(ppo.last_update().clip_fraction == 0.0);
      CHECK(std::abs(ppo.last_update().approx_kl) < 1e-9);
    }
  }
}

TEST_CASE("The Oracle reads the privileged values and learns what the plain MLP cannot") {
  algo::PpoConfig c;
  c.n_steps = 64;
  c.n_envs = 4;
  c.batch_size = 64;
  c.learning_rate = 1e-3;
  c.policy_hidden = {32};
  c.value_hidden = {32};
  c.seed = 1;
  algo::Ppo<HiddenTarget, noise::DiagGaussian<float>, policy::Oracle, policy::PrivilegedCritic> oracle(
      {}, c, {.log_std_init = -0.5}, {.encoder_hidden = {32}}, {.encoder_hidden = {32}});
  oracle.learn(30'000);
  algo::Ppo<HiddenTarget> mlp({}, c, {.log_std_init = -0.5});
  mlp.learn(30'000);
  const double with_p = oracle.evaluate(50), without = mlp.evaluate(50);
  MESSAGE("Oracle " << with_p << ", MLP " << without << " (a = 0 earns -8/3)");
  CHECK(with_p > -0.5);
  CHECK(without < -2.0);  // nothing to learn from a constant observation
}

TEST_CASE("Privileged values reach privileged networks only") {
  algo::PpoConfig c = small_config();
  {
    algo::Ppo<HiddenTarget, noise::DiagGaussian<float>, Spy<false>, Spy<true>> ppo({}, c);
    ppo.learn(400);
    double a = 0;
    Eigen::Matrix<float, 1, 1> obs = Eigen::Matrix<float, 1, 1>::Constant(0.5f), act;
    ppo.predict(obs, act);  // no privileged argument: the actor cannot depend on it
    a = act(0);
    CHECK(std::isfinite(a));
    CHECK(ppo.evaluate(2) < 0);
  }
  {
    algo::Ppo<HiddenTarget, noise::DiagGaussian<float>, Spy<true>, Spy<false>> ppo({}, c);
    ppo.learn(400);
    Eigen::Matrix<float, 1, 1> obs = Eigen::Matrix<float, 1, 1>::Constant(0.5f), act;
    ppo.predict(obs, act, Eigen::Matrix<float, 1, 1>::Constant(0.3f));
    CHECK(std::isfinite(act(0)));
  }
}

TEST_CASE("PPO with history and privileged networks resumes bit-identically") {
  const auto dir = std::filesystem::temp_directory_path() / "spindle_test_policy_checkpoint";
  std::filesystem::create_directories(dir);
  const auto path = dir / "ppo.npz";
  const algo::PpoConfig c = small_config(5);
  using Algo = algo::Ppo<HiddenTarget, noise::Gsde<float>, policy::HistoryMlp, policy::PrivilegedCritic>;
  const policy::HistoryMlp::Config h{.history = 4};
  const policy::Oracle::Config o{.encoder_hidden = {8}};
  Algo straight({}, c, {}, h, o);
  straight.learn(5 * 144);
  Algo first({}, c, {}, h, o);
  first.learn(3 * 144 - 10);  // stops after the third rollout, mid-episode
  first.save(path);
  Algo resumed({}, c, {}, h, o);
  CHECK(resumed.load(path) == algo::Resume::environments_restarted);  // HiddenTarget cannot save its state
  (void)resumed;
  // An environment that can save its state resumes exactly: Pendulum with a history MLP.
  using Hist = algo::Ppo<envs::Pendulum, noise::Gsde<float>, policy::HistoryMlp, policy::HistoryMlp>;
  Hist a({}, c, {}, h, h);
  a.learn(6 * 144);
  Hist b({}, c, {}, h, h);
  b.learn(3 * 144);
  b.save(path);
  Hist r({}, c, {}, h, h);
  CHECK(r.load(path) == algo::Resume::exact);
  r.learn(6 * 144);
  CHECK(r.policy().values() == a.policy().values());
  CHECK(r.evaluate(1) == a.evaluate(1));
  std::filesystem::remove_all(dir);
}

TEST_CASE("PPO with HistoryMlp, Tcn and Oracle networks collects and updates without heap allocations once warmed up") {
  algo::PpoConfig c = small_config();
  c.normalize_rewards = true;
  {
    algo::Ppo<envs::Pendulum, noise::Gsde<float>, policy::HistoryMlp, policy::HistoryMlp> ppo({}, c, {}, {.history = 6},
                                                                                             {.history = 6});
    ppo.learn(6 * 144);  // sizes every buffer, tape and minibatch (the first truncations at step 200 included)
    const auto before = spindle_test::allocations();
    ppo.learn(14 * 144);
    CHECK(spindle_test::allocations() == before);
  }
  {
    algo::Ppo<HiddenGain, noise::DiagGaussian<float>, policy::Tcn, policy::PrivilegedCritic> ppo(
        {}, c, {}, {.history = 6, .step_hidden = {8}, .step_features = 4, .filters = 4, .convolutions = {{3, 2}, {2, 1}}},
        {.encoder_hidden = {8}});
    ppo.learn(4 * 144);
    const auto before = spindle_test::allocations();
    ppo.learn(8 * 144);
    CHECK(spindle_test::allocations() == before);
  }
  {
    algo::Ppo<HiddenTarget, noise::DiagGaussian<float>, policy::Oracle, policy::PrivilegedCritic> ppo(
        {}, c, {}, {.encoder_hidden = {8}}, {.encoder_hidden = {8}});
    ppo.learn(4 * 144);
    const auto before = spindle_test::allocations();
    ppo.learn(8 * 144);
    CHECK(spindle_test::allocations() == before);
  }
}

TEST_CASE("Policy networks reject bad configurations with clear errors") {
  using Hist = algo::Ppo<envs::Pendulum, noise::DiagGaussian<float>, policy::HistoryMlp>;
  CHECK_THROWS_WITH(Hist({}, small_config(), {}, {.history = 0}), doctest::Contains("history length must be positive"));
  CHECK_THROWS_WITH(Hist({}, small_config(), {}, {.history = -2}), doctest::Contains("history length must be positive"));
  struct NoPrivileged : HiddenTarget {
    Eigen::Index privileged_size() const { return 0; }
    Eigen::Matrix<float, 0, 1> privileged() const { return {}; }
  };
  using Bad = algo::Ppo<NoPrivileged, noise::DiagGaussian<float>, policy::Oracle>;
  CHECK_THROWS_WITH(Bad({}, small_config()), doctest::Contains("no privileged information"));
}

TEST_CASE("Tcn: per-step MLP, convolutions over time and the code equal a direct computation, gradients check") {
  const policy::Shapes shapes{3, 2, 0};
  const Eigen::Index T = 9, B = 3, E = shapes.entry();
  const policy::Tcn::Config config{.history = T, .step_hidden = {6}, .step_features = 4, .filters = 5,
                                   .convolutions = {{3, 2}, {2, 1}}, .code_size = 3};
  nn::Parameters<double> p;
  Rng rng(11, 0);
  const policy::Build build{.role = policy::Role::actor, .shapes = shapes, .prefix = "pi.", .hidden = {7}};
  const policy::Tcn net = policy::Tcn::create(p, build, config, rng);
  Eigen::MatrixXd window(T * E, B);
  rng.fill_normal(window);
  autodiff::Tape<double> tape;
  const Eigen::MatrixXd code = net.code(p, tape.constant(window)).value();
  // The same by hand: each step through the step MLP (ReLU), channel f at time t, two ReLU
  // convolutions (PyTorch's cross-correlation, channel-major flatten), a tanh code.
  auto W = [&](const std::string& name) -> Eigen::MatrixXd {
    for (int i = 0; i < p.count(); ++i)
      if (p.slot(i).name == name) return p.value(i);
    FAIL("no parameter " << name);
    return {};
  };
  const auto relu = [](Eigen::MatrixXd m) { return Eigen::MatrixXd(m.cwiseMax(0.0)); };
  for (Eigen::Index b = 0; b < B; ++b) {
    Eigen::MatrixXd steps(4, T);  // channels × time
    for (Eigen::Index t = 0; t < T; ++t) {
      const Eigen::MatrixXd h = relu(W("pi.step.layer0.weight") * window.block(t * E, b, E, 1) + W("pi.step.layer0.bias"));
      steps.col(t) = relu(W("pi.step.layer1.weight") * h + W("pi.step.layer1.bias"));
    }
    auto conv = [&](const Eigen::MatrixXd& x, const std::string& name, Eigen::Index k, Eigen::Index stride) {
      const Eigen::MatrixXd w = W(name + ".weight"), bias = W(name + ".bias");
      const Eigen::Index out_len = (x.cols() - k) / stride + 1;
      Eigen::MatrixXd y(w.rows(), out_len);
      for (Eigen::Index o = 0; o < w.rows(); ++o)
        for (Eigen::Index t = 0; t < out_len; ++t) {
          double v = bias(o, 0);
          for (Eigen::Index c = 0; c < x.rows(); ++c)
            for (Eigen::Index kk = 0; kk < k; ++kk) v += w(o, c * k + kk) * x(c, t * stride + kk);
          y(o, t) = std::max(v, 0.0);
        }
      return y;
    };
    const Eigen::MatrixXd y = conv(conv(steps, "pi.conv0", 3, 2), "pi.conv1", 2, 1);  // 5 × 3
    REQUIRE(y.cols() == 3);
    Eigen::VectorXd flat(y.size());
    for (Eigen::Index o = 0; o < y.rows(); ++o) flat.segment(o * y.cols(), y.cols()) = y.row(o).transpose();
    const Eigen::VectorXd expected = (W("pi.code.layer0.weight") * flat + W("pi.code.layer0.bias")).array().tanh().matrix();
    for (Eigen::Index i = 0; i < 3; ++i) CHECK(code(i, b) == doctest::Approx(expected(i)).epsilon(1e-12));
  }
  // Gradients of the whole network: inputs by gradcheck, every parameter by central differences.
  Eigen::MatrixXd obs(3, B), prev(2, B);
  rng.fill_normal(obs);
  rng.fill_normal(prev);
  auto loss_on = [&](autodiff::Tape<double>& t, autodiff::Var<double> w, autodiff::Var<double> o, autodiff::Var<double> a) {
    (void)t;
    return autodiff::sum(autodiff::square(net(p, {.observation = o, .previous_action = a, .history = w})));
  };
  const auto r = autodiff::gradcheck(
      [&](autodiff::Tape<double>& t, std::span<const autodiff::Var<double>> v) { return loss_on(t, v[0], v[1], v[2]); },
      {window, obs, prev});
  CHECK(r.max_relative_error < 1e-6);
  auto loss_value = [&] {
    autodiff::Tape<double> t;
    return loss_on(t, t.constant(window), t.constant(obs), t.constant(prev)).value()(0, 0);
  };
  {
    autodiff::Tape<double> t;
    p.zero_grad();
    t.backward(loss_on(t, t.constant(window), t.constant(obs), t.constant(prev)));
  }
  CHECK(spindle_test::worst_parameter_error(p, loss_value, p.grads()) < 1e-6);
  CHECK_THROWS_WITH(policy::Tcn::create(p, build, {.history = 4}, rng), doctest::Contains("too short"));
  CHECK_THROWS_WITH(policy::Tcn::create(p, build, {.history = 0}, rng), doctest::Contains("history length must be positive"));
}

TEST_CASE("SAC's replay windows rebuilt from episode links equal the windows acted on, cut where overwritten") {
  const policy::Shapes shapes{1, 1, 0};
  const policy::ContextNeeds needs{.history = 3, .previous_action = true};
  const Eigen::Index n_envs = 2;
  const std::size_t capacity = 10;
  algo::ReplayBuffer<double> buffer(capacity, 1, 1);
  algo::ReplayContext<double> context(capacity, n_envs, shapes, needs);
  policy::LiveContext<double> live(n_envs, shapes, needs);
  Rng rng(3, 0);
  std::vector<Eigen::VectorXd> acted(capacity), next_acted(capacity);  // per slot
  std::vector<std::size_t> slot_of_env(static_cast<std::size_t>(n_envs), capacity);
  std::vector<std::uint8_t> start(static_cast<std::size_t>(n_envs), 1);
  std::vector<long> age(capacity, -1);
  double value = 1;
  Eigen::VectorXd obs = Eigen::VectorXd::Zero(n_envs);
  long added = 0;
  for (int step = 0; step < 17; ++step) {
    for (Eigen::Index i = 0; i < n_envs; ++i) {
      const auto ui = static_cast<std::size_t>(i);
      if (start[ui]) live.reset(i);
      live.observe(i, obs.segment(i, 1));
      // the previous transition of this env, if its episode goes on: its next window is this one
      if (!start[ui] && slot_of_env[ui] < capacity) next_acted[slot_of_env[ui]] = live.window().col(i);
      const double a = 0.1 * value;
      const double next_obs = value++;
      const bool done = rng.uniform<double>(0, 1) < 0.25;
      const std::size_t slot = buffer.position();
      acted[slot] = live.window().col(i);
      next_acted[slot].resize(0);
      buffer.add(obs.segment(i, 1), Eigen::Matrix<double, 1, 1>::Constant(a), 0.0, Eigen::Matrix<double, 1, 1>::Constant(next_obs), done);
      context.add(slot, i, start[ui] != 0, live, Eigen::Matrix<double, 0, 1>{}, done);
      live.acted(i, Eigen::Matrix<double, 1, 1>::Constant(a));
      age[slot] = added++;
      if (done) {
        Eigen::VectorXd w(live.window().rows());
        live.window_after(i, Eigen::Matrix<double, 1, 1>::Constant(next_obs), false, w);
        next_acted[slot] = w;
        obs(i) = -value;  // a new episode's first observation
      } else {
        obs(i) = next_obs;
      }
      slot_of_env[ui] = done ? capacity : slot;
      start[ui] = done;
    }
  }
  std::vector<std::size_t> slots(capacity);
  std::iota(slots.begin(), slots.end(), std::size_t{0});
  algo::ReplayContext<double>::Batch batch;
  context.gather(buffer, slots, batch);
  int cut = 0;
  const Eigen::Index C = 2;
  for (std::size_t s = 0; s < capacity; ++s) {
    CAPTURE(s);
    const Eigen::VectorXd got = batch.history.col(static_cast<Eigen::Index>(s));
    if (got != acted[s]) {
      // entries older than the buffer's oldest transition are cut to zero; the rest agree
      ++cut;
      CHECK(age[s] < added - static_cast<long>(capacity) + 2 * n_envs);
      CHECK(got.tail(C) == acted[s].tail(C));
      bool zero_prefix = true;
      for (Eigen::Index e = 0; e < 3; ++e) {
        const bool same = got.segment(e * C, C) == acted[s].segment(e * C, C);
        const bool zero = got.segment(e * C, C).isZero(0);
        CHECK((same || (zero && zero_prefix)));
        zero_prefix = zero_prefix && zero;
      }
    }
    if (next_acted[s].size() > 0) CHECK(batch.next_history.col(static_cast<Eigen::Index>(s)).tail(4) == next_acted[s].tail(4));
  }
  CHECK(cut < static_cast<int>(capacity));
}

TEST_CASE("SAC with Oracle actor and privileged critic learns the hidden target, the MLP cannot") {
  algo::SacConfig c;
  c.learning_starts = 500;
  c.batch_size = 64;
  c.actor_hidden = {32, 32};
  c.critic_hidden = {32, 32};
  c.learning_rate = 1e-3;
  c.seed = 2;
  algo::Sac<HiddenTarget, noise::SquashedGaussian<float>, policy::Oracle, policy::PrivilegedCritic> oracle(
      {}, c, {}, {.encoder_hidden = {32}}, {.encoder_hidden = {32}});
  oracle.learn(6'000);
  algo::Sac<HiddenTarget> mlp({}, c);
  mlp.learn(6'000);
  const double with_p = oracle.evaluate(50), without = mlp.evaluate(50);
  MESSAGE("SAC Oracle " << with_p << ", SAC MLP " << without << " (a = 0 earns -8/3)");
  CHECK(with_p > -0.5);
  CHECK(without < -2.0);
}

TEST_CASE("SAC with a history MLP resumes bit-identically and updates without heap allocations, a Tcn actor too") {
  algo::SacConfig c;
  c.learning_starts = 100;
  c.batch_size = 32;
  c.buffer_size = 500;  // wraps: links into overwritten transitions are cut
  c.actor_hidden = {16, 16};
  c.critic_hidden = {16, 16};
  c.n_envs = 2;
  c.seed = 9;
  using Algo = algo::Sac<envs::Pendulum, noise::SquashedGaussian<float>, policy::HistoryMlp, policy::HistoryMlp>;
  const policy::HistoryMlp::Config h{.history = 4};
  const auto dir = std::filesystem::temp_directory_path() / "spindle_test_policy_sac";
  std::filesystem::create_directories(dir);
  Algo straight({}, c, {}, h, h);
  straight.learn(900);
  Algo first({}, c, {}, h, h);
  first.learn(600);
  first.save(dir / "sac.npz");
  Algo resumed({}, c, {}, h, h);
  CHECK(resumed.load(dir / "sac.npz") == algo::Resume::exact);
  resumed.learn(900);
  CHECK(resumed.actor().values() == straight.actor().values());
  CHECK(resumed.critic().values() == straight.critic().values());
  const auto before = spindle_test::allocations();
  straight.learn(1300);
  CHECK(spindle_test::allocations() == before);
  std::filesystem::remove_all(dir);
  // A Tcn actor with privileged critics: no allocation either.
  c.n_envs = 1;
  algo::Sac<HiddenGain, noise::SquashedGaussian<float>, policy::Tcn, policy::PrivilegedCritic> tcn(
      {}, c, {}, {.history = 6, .step_hidden = {8}, .step_features = 4, .filters = 4, .convolutions = {{3, 2}, {2, 1}}},
      {.encoder_hidden = {8}});
  tcn.learn(300);
  const auto tcn_before = spindle_test::allocations();
  tcn.learn(700);
  CHECK(spindle_test::allocations() == tcn_before);
  CHECK(tcn.actor().values().allFinite());
}

namespace {
// The README's example of a user-written architecture, verbatim.
struct WidePolicy {
  struct Config { Eigen::Index width = 128; };
  nn::MlpStack mlp;
  template <class S>
  static WidePolicy create(nn::Parameters<S>& p, const policy::Build& b, const Config& c, Rng& rng) {
    // b.mlp(in): the algorithm's hidden layers from `in` features to this role's output
    return {nn::MlpStack::create(p, b.prefix, {.sizes = {b.shapes.observation, c.width, b.output_size()},
                                                .hidden = b.activation, .output = b.activation}, rng)};
  }
  template <class S>
  autodiff::Var<S> operator()(nn::Parameters<S>& p, const policy::Inputs<S>& in) const {
    return mlp(p, in.observation);  // the latent the noise head reads
  }
};
}  // namespace

TEST_CASE("A user-written architecture (the README's) trains in PPO") {
  algo::PpoConfig c = small_config();
  algo::Ppo<envs::Pendulum, noise::DiagGaussian<float>, WidePolicy> ppo(envs::Pendulum{}, c, {}, {.width = 24});
  CHECK(ppo.policy().slot(0).name == "pi.layer0.weight");
  CHECK(ppo.policy().slot(0).rows == 24);
  const Eigen::VectorXf before = ppo.policy().values();
  ppo.learn(288);
  CHECK((ppo.policy().values() - before).norm() > 0);
  CHECK(ppo.policy().values().allFinite());
}

}  // namespace test_policy
