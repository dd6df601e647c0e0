// The ball tray (mujoco::BallTray), the Baoding-like task sized for the SDS ablation: the ball
// rolls off a tray left alone, reward terms and the target orbit recomputed from the
// observation, task parameters at the next reset, RSI, ball physics as privileged
// information, exact resume.
#include <doctest/doctest.h>

#include <cmath>
#include <numbers>
#include <spindle/core.hpp>
#include <spindle/curriculum.hpp>
#include <spindle/mujoco.hpp>

// One namespace per file: the suites compile as unity builds (several files in one
// translation unit), where file-local helpers of the same name must not meet.
namespace test_ball_tray {

using namespace spindle;
using namespace spindle::mujoco;

static_assert(Environment<BallTray>);
static_assert(PrivilegedEnvironment<BallTray>);
static_assert(curriculum::check_task_environment<BallTray>());

TEST_CASE("BallTray: left alone the ball rolls off, reward terms and the target orbit from the observation") {
  BallTray tray({.task = BallTrayTask::moving(2.0)});
  Rng rng(1);
  auto o = tray.reset(rng);
  CHECK(o.segment(13, 3).norm() < 1e-6f);  // the ball starts on the orbit's phase 0
  const double dt = 0.02;
  int steps = 0;
  Step<20> s;
  do {
    s = tray.step(BallTray::Action::Zero());
    const long k = steps++;
    // target on the orbit (tray frame): r = 0.06, one revolution in 2 s, counter-clockwise
    const double theta = 2 * std::numbers::pi * static_cast<double>(k) * dt / 2.0;
    CHECK(s.observation(10) == doctest::Approx(0.06 * std::cos(theta)).epsilon(1e-5));
    CHECK(s.observation(11) == doctest::Approx(0.06 * std::sin(theta)).epsilon(1e-5));
    const Eigen::Vector3d error = s.observation.segment(13, 3).cast<double>();
    for (int i = 0; i < 3; ++i) CHECK(s.observation(13 + i) == doctest::Approx(s.observation(10 + i) - s.observation(4 + i)).epsilon(1e-5));
    const double d = error.norm();
    CHECK(s.reward == doctest::Approx(-10 * d + (s.terminated ? 0.0 : 1.0) + (tray.solved() ? 5.0 : 0.0)).epsilon(1e-5));
    CHECK(tray.solved() == (!s.terminated && d < 0.02));
  } while (!s.terminated && !s.truncated);
  CHECK(s.terminated);  // nothing holds the tray level: the ball's weight tips it
  CHECK(steps < 100);
  CHECK_FALSE(tray.success());
}

TEST_CASE("BallTray: task parameters at the next reset, RSI, ball physics, exact resume") {
  BallTray tray;
  Rng rng(2);
  tray.reset(rng);
  CHECK(tray.orbit().period >= 1e6);  // static by default
  tray.set_task(curriculum::Params({"period", "phase_mismatch", "rsi", "mass_low", "mass_high"},
                                   (Eigen::VectorXd(5) << 3.0, 1.0, 1.0, 0.08, 0.08).finished()));
  CHECK(tray.orbit().period >= 1e6);
  const auto o = tray.reset(rng);
  CHECK(tray.orbit().period == 3.0);
  CHECK(o.segment(13, 2).norm() < 1e-6f);  // RSI: on the target, wherever the phase put it
  CHECK(tray.privileged()(0) == 0.08);
  CHECK(tray.env().model()->body_mass[tray.env().model().body("ball").id] == 0.08);
  CHECK_THROWS_WITH(tray.set_task(curriculum::Params({"rsi"}, Eigen::VectorXd::Constant(1, 2.0))), doctest::Contains("rsi"));

  BallTray a({.task = BallTrayTask::varied(2.0)});
  Rng r(3), actions(4);
  a.reset(r);
  std::vector<BallTray::Action> plan(60);
  for (auto& x : plan)
    for (auto& v : x) v = actions.uniform<float>(-1.0f, 1.0f);
  for (int k = 0; k < 20; ++k) a.step(plan[static_cast<std::size_t>(k)]);
  StateWords words;
  a.save_state(words);
  BallTray b;
  StateReader in(words);
  b.load_state(in);
  for (int k = 20; k < 60; ++k) {
    const auto sa = a.step(plan[static_cast<std::size_t>(k)]), sb = b.step(plan[static_cast<std::size_t>(k)]);
    CHECK(sa.observation == sb.observation);
    if (sa.terminated) break;
  }
  CHECK(a.privileged() == b.privileged());
}

}  // namespace test_ball_tray
