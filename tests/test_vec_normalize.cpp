#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <spindle/core/vector_env.hpp>
#include <spindle/envs.hpp>
#include <spindle/wrappers/vec_normalize.hpp>
#include <vector>

// One namespace per file: the suites compile as unity builds (several files in one
// translation unit), where file-local helpers of the same name must not meet.
namespace test_vec_normalize {

using spindle::envs::Pendulum;
using Vec = spindle::VectorEnv<Pendulum>;

namespace {
Eigen::MatrixXf actions_at(int t, Eigen::Index n) {
  Eigen::MatrixXf a(n, 1);
  for (Eigen::Index i = 0; i < n; ++i) a(i, 0) = 2.0f * std::cos(0.07f * float(t) * float(i + 1));
  return a;
}
// Pooled mean and variance of `rows` together with SB3's prior (count eps at mean 0, variance 1).
std::pair<double, double> pooled(const std::vector<double>& xs, double eps) {
  double sum = 0;
  for (double x : xs) sum += x;
  const double n = double(xs.size());
  const double m = sum / (n + eps);
  double ss = eps * (1.0 + m * m);
  for (double x : xs) ss += (x - m) * (x - m);
  return {m, ss / (n + eps)};
}
}  // namespace

TEST_CASE("VecNormalize: statistics and outputs equal a two-pass computation over the raw stream") {
  const int n = 4, steps = 450;
  spindle::VecNormalize<Vec> env{Vec(n)};
  std::vector<std::vector<double>> obs_cols(3);
  std::vector<double> returns_seen;
  std::vector<double> running(n, 0.0);
  const double gamma = env.config().gamma, eps8 = env.config().epsilon;

  env.reset(9);
  auto record_obs = [&] {
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < 3; ++j) obs_cols[std::size_t(j)].push_back(env.raw_observations()(i, j));
  };
  record_obs();
  for (int t = 0; t < steps; ++t) {
    env.step(actions_at(t, n));
    record_obs();
    for (int i = 0; i < n; ++i) {
      running[std::size_t(i)] = running[std::size_t(i)] * gamma + env.raw_rewards()(i);
      returns_seen.push_back(running[std::size_t(i)]);
    }
    // The reward scale uses the return statistics including this step.
    const auto [rm, rv] = pooled(returns_seen, 1e-4);
    (void)rm;
    for (int i = 0; i < n; ++i) {
      const double expected = std::clamp(double(env.raw_rewards()(i)) / std::sqrt(rv + eps8), -10.0, 10.0);
      REQUIRE(env.rewards()(i) == doctest::Approx(expected).epsilon(1e-5));
    }
    for (int i = 0; i < n; ++i)
      if (env.done(i)) running[std::size_t(i)] = 0.0;
  }
  for (int j = 0; j < 3; ++j) {
    const auto [m, v] = pooled(obs_cols[std::size_t(j)], 1e-4);
    CHECK(env.obs_rms().mean()(j) == doctest::Approx(m).epsilon(1e-10));
    CHECK(env.obs_rms().var()(j) == doctest::Approx(v).epsilon(1e-10));
    for (int i = 0; i < n; ++i) {
      const double expected = std::clamp((double(env.raw_observations()(i, j)) - env.obs_rms().mean()(j)) /
                                             std::sqrt(env.obs_rms().var()(j) + eps8),
                                         -10.0, 10.0);
      CHECK(env.observations()(i, j) == doctest::Approx(expected).epsilon(1e-5));
    }
  }
  const auto [rm, rv] = pooled(returns_seen, 1e-4);
  CHECK(env.ret_rms().mean()(0) == doctest::Approx(rm).epsilon(1e-10));
  CHECK(env.ret_rms().var()(0) == doctest::Approx(rv).epsilon(1e-10));
}

TEST_CASE("VecNormalize: final observations are normalised with the same statistics") {
  spindle::VecNormalize<Vec> env{Vec(2)};
  env.reset(1);
  for (int t = 0; t < 200; ++t) env.step(Eigen::MatrixXf::Zero(2, 1));
  REQUIRE(env.done(0));
  Eigen::MatrixXf expected(1, 3);
  env.normalize_observations(env.venv().final_observations().row(0), expected);
  CHECK(env.final_observations().row(0).isApprox(expected));
}

TEST_CASE("VecNormalize: frozen statistics do not move, clipping holds") {
  spindle::VecNormalizeConfig cfg;
  cfg.clip_obs = 0.5;
  spindle::VecNormalize<Vec> env{Vec(3), cfg};
  env.reset(2);
  for (int t = 0; t < 20; ++t) env.step(actions_at(t, 3));
  env.set_training(false);
  const auto frozen = env.state();
  for (int t = 0; t < 20; ++t) env.step(actions_at(t, 3));
  CHECK(env.obs_rms() == frozen.obs_rms);
  CHECK(env.ret_rms() == frozen.ret_rms);
  CHECK(env.observations().cwiseAbs().maxCoeff() <= 0.5f);
}

TEST_CASE("VecNormalize: state saved and restored continues identically") {
  spindle::VecNormalize<Vec> a{Vec(3)}, b{Vec(3)};
  a.reset(4);
  b.reset(4);
  for (int t = 0; t < 50; ++t) a.step(actions_at(t, 3));
  // b replays the raw env to the same point with training off, then takes a's statistics.
  b.set_training(false);
  for (int t = 0; t < 50; ++t) b.step(actions_at(t, 3));
  b.set_training(true);
  b.set_state(a.state());
  for (int t = 50; t < 120; ++t) {
    a.step(actions_at(t, 3));
    b.step(actions_at(t, 3));
    REQUIRE(a.observations() == b.observations());
    REQUIRE(a.rewards() == b.rewards());
  }
  spindle::VecNormalizeState wrong = a.state();
  wrong.returns.resize(5);
  CHECK_THROWS_AS(b.set_state(wrong), spindle::shape_error);
}

}  // namespace test_vec_normalize
