// MyoSuite's Baoding balls on the real MyoHand (../shared/myosuite_envs/myohand_baoding.xml):
// the spec's zero-action reference, the observation layout and reward terms recomputed by hand
// from recorded states, the target ellipse in the hand's frame, the physics trajectory against a
// raw MuJoCo loop (no forward of the physics data), task parameters at the next reset, P2's
// ranges and ball physics, RSI, exact resume, bad input. Skips with a message when ../shared is
// absent.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <numbers>
#include <set>
#include <spindle/curriculum.hpp>
#include <spindle/mujoco.hpp>

// One namespace per file: the suites compile as unity builds (several files in one
// translation unit), where file-local helpers of the same name must not meet.
namespace test_myosuite {

using namespace spindle;
using namespace spindle::mujoco;
using namespace spindle::mujoco::myosuite;

namespace {

std::filesystem::path baoding_scene() {
  if (const char* dir = std::getenv("SPINDLE_SHARED")) return std::filesystem::path(dir) / "myosuite_envs/myohand_baoding.xml";
  return std::filesystem::path(SPINDLE_SOURCE_DIR) / "../shared/myosuite_envs/myohand_baoding.xml";
}

bool have_scene() {
  if (std::filesystem::exists(baoding_scene())) return true;
  MESSAGE("skipped: no MyoSuite Baoding scene at " << baoding_scene().string()
                                                    << " (set SPINDLE_SHARED to the folder holding myosuite_envs/ and myo_sim/)");
  return false;
}

float sigmoid(float a) { return 1.0f / (1.0f + std::exp(-5.0f * (a - 0.5f))); }

}  // namespace

TEST_CASE("Baoding P1 with zero action: the spec's reference distances after one step, the balls drop at step 27") {
  if (!have_scene()) return;
  Baoding env({.model = baoding_scene()});
  CHECK(env.observation_size() == 86);
  CHECK(env.action_size() == 39);
  Rng rng(0);
  env.reset(rng);
  const Eigen::VectorXf zero = Eigen::VectorXf::Zero(39);
  auto s = env.step(zero);
  const Eigen::Vector3f e1 = s.observation.segment(41, 3), e2 = s.observation.segment(44, 3);
  MESSAGE("after step 1: d1 " << e1.norm() << ", d2 " << e2.norm() << ", reward " << s.reward);
  CHECK(e1.norm() == doctest::Approx(0.026).epsilon(0.02));
  CHECK(e2.norm() == doctest::Approx(0.037).epsilon(0.02));
  CHECK(s.reward == doctest::Approx(-0.31).epsilon(0.02));
  int steps = 1;
  while (!s.terminated && !s.truncated) {
    s = env.step(zero);
    ++steps;
  }
  CHECK(s.terminated);
  CHECK(steps == 27);
  CHECK(env.score() == 0.0);
}

TEST_CASE("Baoding: observation layout, reward terms and the target ellipse recomputed from recorded states") {
  if (!have_scene()) return;
  Baoding env({.model = baoding_scene()});
  Rng rng(3), actions(4);
  env.reset(rng);
  const mjModel& m = *env.env().model();
  const double dt = 10 * m.opt.timestep;
  const int hand = m.site_bodyid[env.env().model().site("target1_site").id];  // the targets ride on the hand
  for (int k = 0; k < 25; ++k) {
    Eigen::VectorXf a(39);
    for (auto& x : a) x = actions.uniform<float>(-1.0f, 1.0f);
    const auto s = env.step(a);
    if (s.terminated) break;
    const mjData& d = env.env().observed_data();
    CAPTURE(k);
    // Layout: hand qpos, ball 1 position and velocity·dt, ball 2, targets, errors, activations last.
    for (int i = 0; i < 23; ++i) CHECK(s.observation(i) == static_cast<float>(d.qpos[i]));
    CHECK(s.observation(26) == static_cast<float>(d.qvel[23] * dt));
    CHECK(s.observation(32) == static_cast<float>(d.qvel[29] * dt));
    for (int i = 0; i < 39; ++i) CHECK(s.observation(47 + i) == static_cast<float>(d.act[i]));
    // Targets: on the ellipse in the hand's frame, CCW, one revolution in 5 s, φ1 = π/4, φ2 = φ1 − π.
    const double theta = 2 * std::numbers::pi * k * dt / 5.0;
    const Eigen::Map<const Eigen::Matrix<double, 3, 3, Eigen::RowMajor>> R(d.xmat + 9 * hand);
    const Eigen::Vector3d p(d.xpos[3 * hand], d.xpos[3 * hand + 1], d.xpos[3 * hand + 2]);
    for (int b : {0, 1}) {
      const Eigen::Vector3d target = s.observation.segment(35 + 3 * b, 3).cast<double>();
      const Eigen::Vector3d local = R.transpose() * (target - p);
      const double phi = std::numbers::pi / 4 - b * std::numbers::pi;
      CHECK(local(0) == doctest::Approx(0.025 * std::cos(theta + phi) - 0.0125).epsilon(1e-5));
      CHECK(local(1) == doctest::Approx(0.028 * std::sin(theta + phi) - 0.07).epsilon(1e-5));
      CHECK(local(2) == doctest::Approx(-0.02).epsilon(1e-5));
      // the error is target − ball, the ball its site's world position
      for (int i = 0; i < 3; ++i)
        CHECK(s.observation(41 + 3 * b + i) == doctest::Approx(target(i) - s.observation(23 + 6 * b + i)).epsilon(1e-5));
    }
    // Reward: −5·(d1 + d2); solved within 0.015 of both targets; termination on a drop.
    const double d1 = s.observation.segment(41, 3).cast<double>().norm(), d2 = s.observation.segment(44, 3).cast<double>().norm();
    CHECK(s.reward == doctest::Approx(-5 * (d1 + d2)).epsilon(1e-5));
    CHECK(env.solved() == (d1 < 0.015 && d2 < 0.015));
    CHECK(s.terminated == (s.observation(25) < 1.25f || s.observation(31) < 1.25f));
  }
  // The Lattice / winners' weights: −d1 − d2 + alive + 5·solved.
  Baoding winners({.model = baoding_scene(), .weights = BaodingWeights::winners()});
  Rng r2(3);
  winners.reset(r2);
  const auto s = winners.step(Eigen::VectorXf::Zero(39));
  const double d1 = s.observation.segment(41, 3).cast<double>().norm(), d2 = s.observation.segment(44, 3).cast<double>().norm();
  CHECK(s.reward == doctest::Approx(-d1 - d2 + 1.0).epsilon(1e-5));
}

TEST_CASE("Baoding: the physics is MyoSuite's loop (muscle sigmoid, 10 substeps, the physics data never forwarded)") {
  if (!have_scene()) return;
  Baoding env({.model = baoding_scene()});
  Rng rng(1), actions(2);
  env.reset(rng);
  // The same run by hand on the body the environment uses (nominal balls in P1).
  Model model = Model::from_file(baoding_scene());
  Data data(model);
  const mjModel* m = model.get();
  mjData* d = data.get();
  mj_resetData(m, d);
  d->qpos[m->jnt_qposadr[model.joint("pro_sup").id]] = -1.57;
  mj_forward(m, d);
  for (int k = 0; k < 40; ++k) {
    Eigen::VectorXf a(39);
    for (auto& x : a) x = actions.uniform<float>(-1.2f, 1.2f);  // as given: the sigmoid takes values beyond [−1, 1] too
    const auto s = env.step(a);
    for (int i = 0; i < m->nu; ++i) d->ctrl[i] = sigmoid(a(i));
    for (int f = 0; f < 10; ++f) mj_step(m, d);
    CAPTURE(k);
    bool same = true;
    for (int i = 0; i < m->nq; ++i) same = same && env.env().data().qpos[i] == d->qpos[i];
    for (int i = 0; i < m->na; ++i) same = same && env.env().data().act[i] == d->act[i];
    CHECK(same);
    CHECK(env.env().data().ctrl[0] == doctest::Approx(std::clamp<double>(sigmoid(a(0)), m->actuator_ctrlrange[0], m->actuator_ctrlrange[1])));
    // MyoSuite's observation: a forwarded copy; the kinematics-only copy gives the same numbers.
    Data observed(data);
    mj_forward(m, observed.get());
    for (int b : {0, 1}) {
      const int site = model.site(b == 0 ? "ball1_site" : "ball2_site").id;
      for (int i = 0; i < 3; ++i) CHECK(s.observation(23 + 6 * b + i) == static_cast<float>(observed->site_xpos[3 * site + i]));
      const Eigen::Vector3d target = env.target_position(b, k, *observed.get());
      for (int i = 0; i < 3; ++i) CHECK(s.observation(35 + 3 * b + i) == static_cast<float>(target(i)));
    }
    if (s.terminated) break;
  }
}

TEST_CASE("Baoding: task parameters apply at the next reset, P2's ranges, ball physics as privileged information, RSI") {
  if (!have_scene()) return;
  Baoding env({.model = baoding_scene()});
  static_assert(PrivilegedEnvironment<Baoding>);
  static_assert(curriculum::check_task_environment<Baoding>());
  Rng rng(5);
  env.reset(rng);
  env.step(Eigen::VectorXf::Zero(39));
  const std::vector<std::string> names{"period", "direction", "rx"};
  env.set_task(curriculum::Params(names, Eigen::Vector3d(30.0, -1.0, 0.03)));
  CHECK(env.orbit().period == 5.0);  // the running episode keeps its targets
  env.reset(rng);
  CHECK(env.orbit().period == 30.0);
  CHECK(env.orbit().direction == -1.0);

  Baoding p2({.model = baoding_scene(), .task = BaodingTask::phase2()});
  std::set<double> directions;
  for (int e = 0; e < 30; ++e) {
    p2.reset(rng);
    CHECK(p2.orbit().period >= 4.0);
    CHECK(p2.orbit().period <= 6.0);
    directions.insert(p2.orbit().direction);
    const Eigen::VectorXd& physics = p2.privileged();
    REQUIRE(physics.size() == 10);
    const mjModel& m = *p2.env().model();
    for (int b : {0, 1}) {
      CHECK(physics(b) >= 0.03);
      CHECK(physics(b) <= 0.3);
      CHECK(m.body_mass[p2.env().model().body(b == 0 ? "ball1" : "ball2").id] == physics(b));
      CHECK(m.geom_size[3 * p2.env().model().geom(b == 0 ? "ball1" : "ball2").id] == physics(2 + b));
      CHECK(physics(4 + 3 * b) >= 0.8 - 1e-12);
      CHECK(physics(4 + 3 * b) <= 1.2 + 1e-12);
    }
  }
  CHECK(directions == std::set<double>{-1.0, 0.0, 1.0});

  // RSI: the balls start on their targets.
  Baoding rsi({.model = baoding_scene(), .task = {.rsi = {1, 1}}});
  const Eigen::VectorXf o = rsi.reset(rng);
  CHECK(o.segment(41, 6).norm() < 1e-6f);
}

TEST_CASE("Baoding: a saved mid-episode state resumes bit-identically, P2 physics included") {
  if (!have_scene()) return;
  Baoding a({.model = baoding_scene(), .task = BaodingTask::phase2()});
  Rng rng(8), actions(9);
  a.reset(rng);
  std::vector<Eigen::VectorXf> plan;
  for (int k = 0; k < 30; ++k) {
    Eigen::VectorXf x(39);
    for (auto& v : x) v = actions.uniform<float>(-1.0f, 1.0f);
    plan.push_back(x);
  }
  for (int k = 0; k < 10; ++k) a.step(plan[static_cast<std::size_t>(k)]);
  StateWords words;
  a.save_state(words);
  Baoding b({.model = baoding_scene()});  // another task distribution: the state brings its own
  StateReader in(words);
  b.load_state(in);
  for (int k = 10; k < 30; ++k) {
    const auto sa = a.step(plan[static_cast<std::size_t>(k)]);
    const auto sb = b.step(plan[static_cast<std::size_t>(k)]);
    CHECK(sa.observation == sb.observation);
    CHECK(sa.reward == sb.reward);
    if (sa.terminated) break;
  }
  CHECK(a.privileged() == b.privileged());
}

TEST_CASE("Baoding: bad input is a clear error") {
  CHECK_THROWS_WITH_AS(Baoding({.model = "no/such/baoding.xml"}), doctest::Contains("no/such/baoding.xml"), model_error);
  if (!have_scene()) return;
  Baoding env({.model = baoding_scene()});
  CHECK_THROWS_WITH(env.set_task(curriculum::Params({"rsi"}, Eigen::VectorXd::Constant(1, 1.5))), doctest::Contains("rsi"));
  CHECK_THROWS_WITH(Baoding({.model = baoding_scene(), .task = {.orbit = {.period = {0, 0}}}}), doctest::Contains("period"));
  const std::vector<curriculum::Stage> stages{{.params = {{"spin", curriculum::fixed(1)}}}};
  CHECK_THROWS_WITH(curriculum::Staged<Baoding>(env, std::make_shared<curriculum::Scheduler>(stages)),
                    doctest::Contains("'spin', which the task does not know"));
}

}  // namespace test_myosuite
