#include <doctest/doctest.h>

#include <cmath>
#include <utility>

#include <spindle/envs.hpp>
#include <spindle/wrappers.hpp>

// One namespace per file: the suites compile as unity builds (several files in one
// translation unit), where file-local helpers of the same name must not meet.
namespace test_wrappers {

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

namespace {
// Records the action its step receives, to check the wrapper's mapping itself.
struct RecordsAction {
  static constexpr int obs_dim = 1, act_dim = 2;
  spindle::Box<double> action_space{Eigen::Vector2d(-2.0, 0.0), Eigen::Vector2d(2.0, 10.0)};
  Eigen::Vector2d last = Eigen::Vector2d::Constant(std::nan(""));
  Eigen::Matrix<double, 1, 1> reset(spindle::Rng&) { return Eigen::Matrix<double, 1, 1>(0.0); }
  spindle::Step<1, double> step(const Eigen::Vector2d& a) {
    last = a;
    return {Eigen::Matrix<double, 1, 1>(0.0), 0.0, false, false};
  }
};
}  // namespace

TEST_CASE("RescaleAction maps the unit box onto the wrapped action space") {
  spindle::RescaleAction<RecordsAction> wrapped{RecordsAction{}};
  CHECK(wrapped.action_space().low(0) == -1.0);
  CHECK(wrapped.action_space().high(1) == 1.0);
  // Corners and the centre land exactly on the box's bounds and midpoint.
  for (auto [unit, expected] : {std::pair{Eigen::Vector2d(-1, -1), Eigen::Vector2d(-2, 0)},
                                std::pair{Eigen::Vector2d(1, 1), Eigen::Vector2d(2, 10)},
                                std::pair{Eigen::Vector2d(0, 0), Eigen::Vector2d(0, 5)},
                                std::pair{Eigen::Vector2d(0.5, -0.5), Eigen::Vector2d(1, 2.5)}}) {
    wrapped.step(unit);
    CHECK(wrapped.inner().last == expected);
  }

  // Through a real environment: the same dynamics as the unwrapped one given the mapped torque.
  // Compared with a tolerance: the two call sites may round differently in the last bit when the
  // compiler contracts a·b + c into an FMA (-march with FMA), which is not a property of the wrapper.
  spindle::RescaleAction<spindle::envs::BasicPendulum<double>> pendulum{spindle::envs::BasicPendulum<double>()};
  spindle::envs::BasicPendulum<double> plain;
  pendulum.inner().set_state(0.3, 0.1);
  plain.set_state(0.3, 0.1);
  const auto a = pendulum.step(Eigen::Matrix<double, 1, 1>(0.5));  // → torque 1.0
  const auto b = plain.step(Eigen::Matrix<double, 1, 1>(1.0));
  for (int i = 0; i < 3; ++i) CHECK(a.observation(i) == doctest::Approx(b.observation(i)).epsilon(1e-14));
  CHECK(a.reward == doctest::Approx(b.reward).epsilon(1e-14));
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

TEST_CASE("SelectObservation hides components: PendulumNoVel observes (cos θ, sin θ), CartPoleNoVel (x, θ)") {
  static_assert(spindle::check_environment<spindle::envs::PendulumNoVel>());
  static_assert(spindle::envs::PendulumNoVel::obs_dim == 2);
  static_assert(spindle::SavableEnvironment<spindle::envs::PendulumNoVel>);
  static_assert(spindle::StatefulEnvironment<spindle::envs::CartPoleNoVel>);
  spindle::envs::PendulumNoVel env;
  Pendulum full;
  spindle::Rng a(3), b(3);
  const auto o = env.reset(a);
  const auto f = full.reset(b);
  CHECK(o(0) == f(0));
  CHECK(o(1) == f(1));
  for (int t = 0; t < 10; ++t) {
    const auto s = env.step(Eigen::Matrix<float, 1, 1>(0.7f));
    const auto g = full.step(Eigen::Matrix<float, 1, 1>(0.7f));
    REQUIRE(s.observation == g.observation.head<2>());
    REQUIRE(s.reward == g.reward);
  }
  spindle::envs::CartPoleNoVel cart;
  const auto c = cart.set_state(Eigen::Vector4d(0.1, 0.2, 0.03, 0.4));
  CHECK(c(0) == 0.1f);
  CHECK(c(1) == 0.03f);
}

TEST_CASE("HistoryWindow: the last T (observation, previous action) pairs, newest last, zeros before the episode") {
  using H = spindle::HistoryWindow<spindle::envs::PendulumNoVel, 3>;
  static_assert(H::obs_dim == 3 * (2 + 1));
  static_assert(spindle::check_environment<H>());
  static_assert(spindle::SavableEnvironment<H>);
  H env;
  spindle::envs::PendulumNoVel plain;
  spindle::Rng a(1), b(1);
  auto w = env.reset(a);
  const auto o0 = plain.reset(b);
  CHECK(w.head<6>().isZero());                       // nothing before the first step
  CHECK(w.segment<2>(6) == o0);                      // the newest observation last
  CHECK(w(8) == 0.0f);                               // no previous action yet
  const auto s1 = env.step(Eigen::Matrix<float, 1, 1>(0.5f));
  const auto p1 = plain.step(Eigen::Matrix<float, 1, 1>(0.5f));
  env.step(Eigen::Matrix<float, 1, 1>(-1.0f));
  const auto p2 = plain.step(Eigen::Matrix<float, 1, 1>(-1.0f));
  const auto s3 = env.step(Eigen::Matrix<float, 1, 1>(2.0f));
  const auto p3 = plain.step(Eigen::Matrix<float, 1, 1>(2.0f));
  CHECK(s1.observation.segment<2>(3) == o0);
  CHECK(s3.observation.segment<2>(0) == p1.observation);  // T = 3: o0 has left the window
  CHECK(s3.observation(2) == 0.5f);
  CHECK(s3.observation.segment<2>(3) == p2.observation);
  CHECK(s3.observation(5) == -1.0f);
  CHECK(s3.observation.segment<2>(6) == p3.observation);
  CHECK(s3.observation(8) == 2.0f);
  CHECK(s3.reward == p3.reward);
  w = env.reset(a);  // a new episode forgets the old one
  CHECK(w.head<6>().isZero());
}

}  // namespace test_wrappers
