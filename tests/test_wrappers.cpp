#include <doctest/doctest.h>

#include <spindle/envs.hpp>
#include <spindle/wrappers.hpp>

using spindle::envs::Pendulum;

TEST_CASE("TimeLimit truncates after max steps and keeps the wrapped env's flags") {
  Pendulum::Config c;
  c.max_episode_steps = 0;  // no built-in limit
  spindle::TimeLimit<Pendulum> env(Pendulum(c), 5);
  spindle::Rng rng(0);
  env.reset(rng);
  for (int t = 1; t <= 5; ++t) CHECK(env.step(Eigen::Matrix<float, 1, 1>(0.f)).truncated == (t == 5));
  CHECK(env.elapsed_steps() == 5);
  CHECK_THROWS_AS(spindle::TimeLimit<Pendulum>(Pendulum(), 0), std::invalid_argument);
}

TEST_CASE("RescaleAction maps the unit box onto the wrapped action space") {
  spindle::RescaleAction<spindle::envs::BasicPendulum<double>> wrapped{spindle::envs::BasicPendulum<double>()};
  spindle::envs::BasicPendulum<double> plain;
  CHECK(wrapped.action_space().low(0) == -1.0);
  CHECK(wrapped.action_space().high(0) == 1.0);
  wrapped.inner().set_state(0.3, 0.1);
  plain.set_state(0.3, 0.1);
  const auto a = wrapped.step(Eigen::Matrix<double, 1, 1>(0.5));  // → torque 1.0
  const auto b = plain.step(Eigen::Matrix<double, 1, 1>(1.0));
  CHECK(a.observation == b.observation);
  CHECK(a.reward == b.reward);
}

TEST_CASE("EpisodeStatistics records return and length of each finished episode") {
  spindle::EpisodeStatistics<Pendulum> env{Pendulum()};
  spindle::Rng rng(4);
  env.reset(rng);
  CHECK_FALSE(env.last_episode().has_value());
  double sum = 0;
  for (int t = 0; t < 200; ++t) sum += env.step(Eigen::Matrix<float, 1, 1>(0.5f)).reward;
  REQUIRE(env.last_episode().has_value());
  CHECK(env.last_episode()->length == 200);
  CHECK(env.last_episode()->episode_return == doctest::Approx(sum).epsilon(1e-6));
  CHECK(env.episodes_completed() == 1);
}
