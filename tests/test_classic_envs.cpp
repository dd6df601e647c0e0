#include <doctest/doctest.h>

#include <cmath>
#include <spindle/core/environment.hpp>
#include <spindle/envs.hpp>

// One namespace per file: the suites compile as unity builds (several files in one
// translation unit), where file-local helpers of the same name must not meet.
namespace test_classic_envs {

using spindle::envs::Pendulum;

namespace {
Eigen::Matrix<float, 1, 1> act(float a) { return Eigen::Matrix<float, 1, 1>(a); }
}  // namespace

TEST_CASE("Pendulum: three steps match values computed by hand from Pendulum-v1's equations") {
  // Expected values: θ0 = 1, θ̇0 = 0.5, torques 1, −3 (clipped to −2), 0.25, computed in double
  // with θ̇' = θ̇ + (3g/2l·sin θ + 3/(ml²)·u)·dt, θ' = θ + θ̇'·dt, cost from the state before the step.
  spindle::envs::BasicPendulum<double> env;
  env.set_state(1.0, 0.5);
  const double expected[3][4] = {
      {-1.0259999999999998, 0.48533052923081726, 0.8743307597222775, 1.2811032386059225},
      {-1.3003359384271678, 0.412228399790423, 0.9110805378265014, 1.6368513083976306},
      {-1.5810723221266065, 0.30221505571768004, 0.9532397705181838, 2.3576617117675065},
  };
  const double torques[3] = {1.0, -3.0, 0.25};
  for (int t = 0; t < 3; ++t) {
    const auto s = env.step(Eigen::Matrix<double, 1, 1>(torques[t]));
    CHECK(s.reward == doctest::Approx(expected[t][0]).epsilon(1e-14));
    CHECK(s.observation(0) == doctest::Approx(expected[t][1]).epsilon(1e-14));
    CHECK(s.observation(1) == doctest::Approx(expected[t][2]).epsilon(1e-14));
    CHECK(s.observation(2) == doctest::Approx(expected[t][3]).epsilon(1e-14));
    CHECK_FALSE(s.terminated);
    CHECK_FALSE(s.truncated);
  }
}

TEST_CASE("Pendulum: angle normalisation, speed clipping, spaces") {
  CHECK(Pendulum::angle_normalize(4.0) == doctest::Approx(-2.2831853071795862));
  CHECK(Pendulum::angle_normalize(-4.0) == doctest::Approx(2.2831853071795862));
  CHECK(Pendulum::angle_normalize(0.5) == doctest::Approx(0.5));
  Pendulum env;
  CHECK(env.action_space().low(0) == -2.0f);
  CHECK(env.action_space().high(0) == 2.0f);
  env.set_state(0.0, 7.99);
  const auto s = env.step(act(2.0f));  // θ̇ would exceed 8
  CHECK(s.observation(2) == 8.0f);
}

TEST_CASE("Pendulum: reset draws |θ| <= π and |θ̇| <= 1, truncates after 200 steps") {
  Pendulum env;
  spindle::Rng rng(11);
  for (int k = 0; k < 200; ++k) {
    const auto o = env.reset(rng);
    REQUIRE(std::abs(o(0) * o(0) + o(1) * o(1) - 1.0f) < 1e-5f);
    REQUIRE(std::abs(env.theta()) <= M_PI);
    REQUIRE(std::abs(env.theta_dot()) <= 1.0);
  }
  env.reset(rng);
  for (int t = 1; t <= 200; ++t) {
    const auto s = env.step(act(0.3f));
    REQUIRE(s.truncated == (t == 200));
  }
}

TEST_CASE("Environments: bad input and misuse give clear errors") {
  Pendulum env;
  CHECK_THROWS_WITH_AS(env.step(act(0.0f)), "Pendulum::step called before reset()", spindle::episode_error);
  spindle::Rng rng(0);
  env.reset(rng);
  CHECK_THROWS_AS(env.step(act(std::nanf(""))), spindle::non_finite_error);
  for (int t = 0; t < 200; ++t) env.step(act(0.0f));
  CHECK_THROWS_WITH_AS(env.step(act(0.0f)),
                       "Pendulum::step called after the episode ended (terminated or truncated); call "
                       "reset() first",
                       spindle::episode_error);
  env.reset(rng);
  CHECK_NOTHROW(env.step(act(0.0f)));
}

TEST_CASE("ContinuousCartPole: one step matches CartPole-v1's equations, it terminates when the pole falls") {
  spindle::envs::BasicContinuousCartPole<double> env;
  env.set_state(0.01, -0.02, 0.03, 0.04);
  const auto s = env.step(Eigen::Matrix<double, 1, 1>(0.5));
  CHECK(s.observation(0) == doctest::Approx(0.009600000000000001).epsilon(1e-14));
  CHECK(s.observation(1) == doctest::Approx(0.07712464253496908).epsilon(1e-14));
  CHECK(s.observation(2) == doctest::Approx(0.030799999999999998).epsilon(1e-14));
  CHECK(s.observation(3) == doctest::Approx(-0.09680273252599633).epsilon(1e-14));
  CHECK(s.reward == 1.0);

  spindle::Rng rng(0);
  env.reset(rng);
  int t = 0;
  bool terminated = false;
  while (!terminated && t < 500) {
    terminated = env.step(Eigen::Matrix<double, 1, 1>(1.0)).terminated;  // push one way: it falls
    ++t;
  }
  CHECK(terminated);
  CHECK(t < 100);
}

TEST_CASE("MountainCarContinuous: physics, wall, goal termination and reward") {
  spindle::envs::BasicMountainCarContinuous<double> env;
  env.set_state(-0.5, 0.0);
  const auto s = env.step(Eigen::Matrix<double, 1, 1>(2.0));  // force clipped to 1, cost uses 2
  const double v = 0.0015 - 0.0025 * std::cos(-1.5);
  CHECK(s.observation(1) == doctest::Approx(v).epsilon(1e-14));
  CHECK(s.observation(0) == doctest::Approx(-0.5 + v).epsilon(1e-14));
  CHECK(s.reward == doctest::Approx(-0.4));

  env.set_state(-1.19, -0.07);  // hits the left wall: velocity zeroed
  const auto w = env.step(Eigen::Matrix<double, 1, 1>(0.0));
  CHECK(w.observation(0) == -1.2);
  CHECK(w.observation(1) == 0.0);

  env.set_state(0.44, 0.05);
  const auto g = env.step(Eigen::Matrix<double, 1, 1>(0.0));
  CHECK(g.terminated);
  CHECK(g.reward == doctest::Approx(100.0));
}

TEST_CASE_TEMPLATE("set_state starts an episode in the given state and returns its observation", E,
                   spindle::envs::Pendulum, spindle::envs::ContinuousCartPole, spindle::envs::MountainCarContinuous) {
  static_assert(spindle::StatefulEnvironment<E>);
  E env, copy;
  spindle::Rng rng(3);
  env.reset(rng);
  for (int t = 0; t < 5; ++t) env.step(spindle::action_t<E>::Constant(0.1f));
  const typename E::State s = env.state();
  // The copy put into that state observes what the original observes, and continues identically.
  const auto o = copy.set_state(s);
  CHECK(copy.state() == s);
  for (int t = 0; t < 20; ++t) {
    const auto a = env.step(spindle::action_t<E>::Constant(0.3f));
    const auto b = copy.step(spindle::action_t<E>::Constant(0.3f));
    REQUIRE(a.observation == b.observation);
    REQUIRE(a.reward == b.reward);
    if (a.done()) break;
  }
  const auto again = copy.set_state(s);  // a new episode, even after steps (or a finished one)
  CHECK(again == o);
}

}  // namespace test_classic_envs
