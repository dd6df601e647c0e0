// MyoSuite's pose tasks (elbow, finger, hand) and hand reach on the real MyoSim models: model
// sizes, observation layout and every reward term recomputed from the observation, thresholds,
// reset and target ranges, the Lattice variants, reach's d->time grace (the spec's zero-action
// numbers), exact resume, path errors. Skips with a message when ../shared is absent.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <spindle/core.hpp>
#include <spindle/mujoco.hpp>

// One namespace per file: the suites compile as unity builds (several files in one
// translation unit), where file-local helpers of the same name must not meet.
namespace test_myosuite_pose {

using namespace spindle;
using namespace spindle::mujoco;
using namespace spindle::mujoco::myosuite;

namespace {

std::filesystem::path shared_dir() {
  if (const char* dir = std::getenv("SPINDLE_SHARED")) return dir;
  return std::filesystem::path(SPINDLE_SOURCE_DIR) / "../shared";
}
bool have(const std::filesystem::path& p) {
  if (std::filesystem::exists(p)) return true;
  MESSAGE("skipped: no " << p.string() << " (set SPINDLE_SHARED to the folder holding myosuite_envs/ and myo_sim/)");
  return false;
}

/// Steps `env` with random actions, checking the observation layout and the reward terms.
void check_pose_steps(Pose& env, const PoseConfig& c, int steps, std::uint64_t seed) {
  const mjModel& m = *env.env().model();
  const int nq = m.nq, na = m.na;
  Rng actions(seed);
  const double dt = 10 * m.opt.timestep;
  for (int k = 0; k < steps; ++k) {
    Eigen::VectorXf a(m.nu);
    for (auto& x : a) x = actions.uniform<float>(-1.0f, 1.0f);
    const auto s = env.step(a);
    const mjData& d = env.env().data();
    REQUIRE(s.observation.size() == 3 * nq + na);
    double ss = 0, act = 0;
    for (int j = 0; j < nq; ++j) {
      CHECK(s.observation(j) == static_cast<float>(d.qpos[j]));
      CHECK(s.observation(nq + j) == static_cast<float>(d.qvel[j] * dt));
      const double e = env.target()(j) - d.qpos[j];
      CHECK(s.observation(2 * nq + j) == static_cast<float>(e));
      ss += e * e;
    }
    for (int i = 0; i < na; ++i) {
      CHECK(s.observation(3 * nq + i) == static_cast<float>(d.act[i]));
      act += d.act[i] * d.act[i];
    }
    const double dist = std::sqrt(ss), thd = c.threshold;
    const double bonus = (dist < thd ? 1 : 0) + (dist < 1.5 * thd ? 1 : 0);
    const double expected = -c.weights.pose * dist + c.weights.bonus * bonus - c.weights.act_reg * std::sqrt(act) / na -
                            c.weights.penalty * (dist > 2 * std::numbers::pi ? 1 : 0) + c.weights.solved * (dist < thd ? 1 : 0);
    CHECK(s.reward == doctest::Approx(expected).epsilon(1e-5));
    CHECK(env.solved() == (dist < thd));
    CHECK(s.terminated == (dist > 2 * std::numbers::pi));
  }
}

}  // namespace

TEST_CASE("MyoSuite elbow pose: 9 observations, targets and resets in range, reward terms, the Lattice variant") {
  const auto path = shared_dir() / "myosuite_envs/myoelbow_1dof6muscles.xml";
  if (!have(path)) return;
  static_assert(Environment<Pose>);
  for (Variant v : {Variant::fixed, Variant::random, Variant::lattice}) {
    CAPTURE(static_cast<int>(v));
    const PoseConfig c = elbow_pose(path, v);
    Pose env(c);
    CHECK(env.observation_size() == 9);
    CHECK(env.action_size() == 6);
    Rng rng(1);
    for (int e = 0; e < 20; ++e) {
      const auto o = env.reset(rng);
      if (v == Variant::fixed) CHECK(env.target()(0) == 2.0);
      CHECK(env.target()(0) >= 0.0);
      CHECK(env.target()(0) <= 2.27);
      if (v == Variant::lattice) CHECK(o(0) == 0.0f);  // reset to the initial pose
      CHECK(o(0) >= 0.0f);
      CHECK(o(0) <= 2.26893f);
    }
    check_pose_steps(env, c, 30, 7);
  }
  // The muscle map: ctrl = sigmoid(5(a − 0.5)) (MuJoCo clamps it to the elbow's [0.001, 1] when applying it).
  Pose env(elbow_pose(path, Variant::fixed));
  Rng rng(2);
  env.reset(rng);
  env.step(Eigen::VectorXf::Constant(6, -1.0f));
  CHECK(env.env().data().ctrl[0] == doctest::Approx(0.000553).epsilon(1e-3));
  env.step(Eigen::VectorXf::Constant(6, 0.3f));
  CHECK(env.env().data().ctrl[0] == doctest::Approx(1.0f / (1.0f + std::exp(-5.0f * (0.3f - 0.5f)))));
}

TEST_CASE("MyoSuite finger and hand pose: sizes, target ranges (halved in Lattice's variant), reward terms") {
  const auto finger = shared_dir() / "myo_sim/finger/myofinger_v0.xml";
  const auto hand = shared_dir() / "myosuite_envs/myohand_pose.xml";
  if (!have(finger) || !have(hand)) return;
  {
    const PoseConfig c = finger_pose(finger, Variant::random);
    Pose env(c);
    CHECK(env.observation_size() == 17);
    Rng rng(3);
    env.reset(rng);
    CHECK(env.target()(0) >= -0.2);
    CHECK(env.target()(2) >= 0.1);
    check_pose_steps(env, c, 30, 8);
    const PoseConfig l = finger_pose(finger, Variant::lattice);
    Pose lattice(l);
    for (int e = 0; e < 20; ++e) {
      lattice.reset(rng);
      CHECK(lattice.target()(1) >= -0.2);  // 0.5 · U(−0.4, 1.0)
      CHECK(lattice.target()(1) <= 0.5);
    }
    check_pose_steps(lattice, l, 20, 9);
  }
  {
    const PoseConfig c = hand_pose(hand, Variant::fixed);
    Pose env(c);
    CHECK(env.observation_size() == 108);
    CHECK(env.action_size() == 39);
    Rng rng(4);
    const auto o = env.reset(rng);
    CHECK(o.head(23).isZero());  // Fixed: reset to zeros
    CHECK(env.target()(5) == -0.681555);
    check_pose_steps(env, c, 15, 10);
    const PoseConfig r = hand_pose(hand, Variant::random);
    Pose random(r);
    const auto o2 = random.reset(rng);
    const mjModel& m = *random.env().model();
    for (int j = 0; j < 23; ++j) {
      CHECK(o2(j) >= m.jnt_range[2 * j] - 1e-6);
      CHECK(o2(j) <= m.jnt_range[2 * j + 1] + 1e-6);
    }
    CHECK(random.target()(0) == 0.0);  // pro_sup: (0, 0) in every ASL pose
    CHECK(hand_pose(hand, Variant::lattice).threshold == 0.8);
    check_pose_steps(random, r, 10, 11);
  }
}

TEST_CASE("MyoSuite hand reach: the spec's zero-action grace and termination, reward terms, target boxes, resume") {
  const auto hand = shared_dir() / "myosuite_envs/myohand_pose.xml";
  if (!have(hand)) return;
  Reach env({.model = hand, .random = true});
  CHECK(env.observation_size() == 115);
  Rng rng(5);
  env.reset(rng);
  const auto boxes = Reach::target_boxes();
  for (int t = 0; t < 5; ++t)
    for (int i = 0; i < 3; ++i) {
      CHECK(env.targets()(i, t) >= boxes[static_cast<std::size_t>(t)].first(i));
      CHECK(env.targets()(i, t) <= boxes[static_cast<std::size_t>(t)].second(i));
    }
  // Centred targets, zero action: d = 0.189 after step 1 (no termination yet: time ≤ 2·dt),
  // 0.174 after step 2 > far 0.17: terminated, with the −50 penalty.
  Eigen::Matrix<double, 3, 5> centres;
  for (int t = 0; t < 5; ++t) centres.col(t) = 0.5 * (boxes[static_cast<std::size_t>(t)].first + boxes[static_cast<std::size_t>(t)].second);
  env.reset(rng);
  env.set_targets(centres);
  const Eigen::VectorXf zero = Eigen::VectorXf::Zero(39);
  auto s1 = env.step(zero);
  const double d1 = s1.observation.segment(61, 15).cast<double>().norm();
  MESSAGE("zero action, centred targets: d " << d1);
  CHECK(d1 == doctest::Approx(0.189).epsilon(0.01));
  CHECK_FALSE(s1.terminated);
  auto s2 = env.step(zero);
  const double d2 = s2.observation.segment(61, 15).cast<double>().norm();
  MESSAGE("after step 2: d " << d2 << ", reward " << s2.reward);
  CHECK(d2 == doctest::Approx(0.174).epsilon(0.01));
  CHECK(s2.terminated);
  CHECK(s2.reward == doctest::Approx(-d2 - 50).epsilon(1e-5));
  // Reward terms along a random trajectory (Fixed: far 0.22).
  Reach fixed({.model = hand, .random = false});
  fixed.reset(rng);
  CHECK(fixed.targets() == Reach::fixed_targets());
  Rng actions(6);
  for (int k = 0; k < 10; ++k) {
    Eigen::VectorXf a(39);
    for (auto& x : a) x = actions.uniform<float>(-1.0f, 1.0f);
    const auto s = fixed.step(a);
    const mjData& d = fixed.env().observed_data();
    const double dist = s.observation.segment(61, 15).cast<double>().norm();
    for (int t = 0; t < 5; ++t)
      for (int i = 0; i < 3; ++i) {
        const int site = fixed.env().model().site(Reach::tips[t]).id;
        CHECK(s.observation(46 + 3 * t + i) == static_cast<float>(d.site_xpos[3 * site + i]));
      }
    const double bonus = (dist < 2 * Reach::near ? 1 : 0) + (dist < Reach::near ? 1 : 0);
    const bool beyond = d.time > 0.04 && dist > 0.22;
    CHECK(s.reward == doctest::Approx(-dist + 4 * bonus - 50 * (beyond ? 1 : 0)).epsilon(1e-5));
    CHECK(s.terminated == beyond);
    if (s.terminated) break;
  }
  // Resume mid-episode.
  Reach a({.model = hand});
  a.reset(rng);
  a.step(Eigen::VectorXf::Constant(39, 0.2f));
  StateWords w;
  a.save_state(w);
  Reach b({.model = hand});
  StateReader in(w);
  b.load_state(in);
  CHECK(a.step(zero).observation == b.step(zero).observation);
}

TEST_CASE("MyoSuite tasks: a missing model or a scene moved away from myo_sim names the path") {
  CHECK_THROWS_WITH_AS(Pose(elbow_pose("no/such/elbow.xml", Variant::fixed)), doctest::Contains("no/such/elbow.xml"), model_error);
  const auto hand = shared_dir() / "myosuite_envs/myohand_pose.xml";
  if (!have(hand)) return;
  const auto dir = std::filesystem::temp_directory_path() / "spindle_test_moved_scene";
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(hand, dir / "myohand_pose.xml", std::filesystem::copy_options::overwrite_existing);
  CHECK_THROWS_WITH_AS(Reach({.model = dir / "myohand_pose.xml"}), doctest::Contains("myohand_pose.xml"), model_error);
  std::filesystem::remove_all(dir);
}

}  // namespace test_myosuite_pose
